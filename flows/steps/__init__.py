"""The runbook's UI path as steps, in runbook order, one module each: login, hub, manifest,
manifest-vocabulary, activate, api-consumer, api-key, widgets (verify follows, over HTTP).

Each step observes (reads only), decides (a pure function of its observation, the seeds and
the options) and acts (carries out the decided writes, nothing else): see ``base``.
"""

from __future__ import annotations

from flows.steps.activate import ActivateObservation, ActivateStep
from flows.steps.api_consumer import ApiConsumerObservation, ApiConsumerStep
from flows.steps.api_key import ApiKeyObservation, ApiKeyStep
from flows.steps.base import (
    FRESH_SESSION_HINT,
    PLAN_STATUS,
    Action,
    Approver,
    Decision,
    Diff,
    Observation,
    Observations,
    Options,
    Run,
    Status,
    Step,
    StepResult,
    Write,
    normalize_text,
    off_target_failure,
    page_failure,
    unrecorded,
    vocabulary_diffs,
)
from flows.steps.hub import HubObservation, HubStep, ManifestRef
from flows.steps.login import HubRow, LoginObservation, LoginStep
from flows.steps.manifest import ManifestObservation, ManifestStep
from flows.steps.vocabulary import VocabularyObservation, VocabularyStep
from flows.steps.widgets import WidgetRow, WidgetsObservation, WidgetsStep

STEPS: list[Step] = [
    LoginStep(),
    HubStep(),
    ManifestStep(),
    VocabularyStep(),
    ActivateStep(),
    ApiConsumerStep(),
    ApiKeyStep(),
    WidgetsStep(),
]

OBSERVATIONS: dict[str, type[Observation]] = {step.name: step.observation for step in STEPS}

__all__ = [
    "FRESH_SESSION_HINT", "OBSERVATIONS", "PLAN_STATUS", "STEPS", "Action", "ActivateObservation", "ActivateStep",
    "ApiConsumerObservation", "ApiConsumerStep", "ApiKeyObservation", "ApiKeyStep", "Approver", "Decision", "Diff",
    "HubObservation", "HubRow", "HubStep", "LoginObservation", "LoginStep", "ManifestObservation", "ManifestRef",
    "ManifestStep", "Observation", "Observations", "Options", "Run", "Status", "Step", "StepResult",
    "VocabularyObservation", "VocabularyStep", "WidgetRow", "WidgetsObservation", "WidgetsStep", "Write",
    "normalize_text", "off_target_failure", "page_failure", "unrecorded", "vocabulary_diffs",
]
