// alawmulaw's test loader, pointed at teledsp: its own test files
// (test/src/*.js, unmodified from rochars/alawmulaw 6.0.0 at 542cb3a) load
// the module under test from here.
module.exports = require('../../../index.js');
