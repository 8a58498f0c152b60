"""What teledsp.Call sends to the model, against the official `openai`
SDK's client-event models: every model message of every conformance
scenario validates as the SDK's event of its type (GA events against
`openai.types.realtime`, beta against `openai.types.beta.realtime`)."""

import json
import pathlib
import typing

import pydantic
import pytest

import teledsp
from openai.types.beta.realtime import RealtimeClientEvent as BetaClient
from openai.types.realtime import RealtimeClientEvent

from test_conformance import SCENARIOS, run_step


def by_type(union):
    out = {}
    for model in typing.get_args(typing.get_args(union)[0]):
        for t in typing.get_args(model.model_fields["type"].annotation):
            out[t] = pydantic.TypeAdapter(model)
    return out


GA, BETA = by_type(RealtimeClientEvent), by_type(BetaClient)


# The Call scenarios whose model is OpenAI's API (Azure takes the same
# events); Pipeline scenarios have no model.
OPENAI_SCENARIOS = [
    p for p in SCENARIOS
    if json.loads(p.read_text()).get("kind", "call") == "call"
    and json.loads(p.read_text())["config"].get("model", "openai") in ("openai", "azure")
]


@pytest.mark.parametrize("path", OPENAI_SCENARIOS, ids=lambda p: p.stem)
def test_every_model_message_is_a_valid_sdk_client_event(path: pathlib.Path):
    sc = json.loads(path.read_text())
    models = BETA if sc["config"].get("api") == "beta" else GA
    call = teledsp.Call(**sc["config"])
    sent = 0
    for step in sc["steps"]:
        try:
            outputs = run_step(call, step)
        except teledsp.TeledspError:
            continue
        for target, payload in outputs:
            if target == "model":
                event = json.loads(payload)
                assert event["type"] in models, f"the SDK has no client event {event['type']!r}"
                models[event["type"]].validate_python(event)
                sent += 1
    assert sent > 0
