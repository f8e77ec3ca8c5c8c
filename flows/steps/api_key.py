"""Step 7, api-key: generate the consumer's one-time key with the seeds' scopes, straight
into the key sink; regenerate only with ``--rotate-key`` (or the operator's yes)."""

from __future__ import annotations

from flows.errors import IhubError, NeedsDecision, StepFailed
from flows.seeds import SeedSet
from flows.steps.api_consumer import ApiConsumerObservation
from flows.steps.base import Action, Decision, Diff, Observation, Observations, Options, Run, Status, Step, StepResult, Write, unrecorded
from pages.api_consumers import ApiConsumersTexts

NEW_CONSUMER = "<new consumer>"


class ApiKeyObservation(Observation):
    step: str = "api-key"
    consumer: str  # the consumer's name
    consumer_id: str | None = None
    key_prefix: str | None = None  # the current key's first characters, as the UI shows them; None: no key
    sink: str  # where keys are kept (the key sink's description)
    held: bool = False  # the sink holds the current key
    key_scopes: list[str] | None = None  # the current key's scopes (read when the key is held)

    @property
    def subject(self) -> str:
        return f"the API key of {self.consumer}"


class ApiKeyStep(Step[ApiKeyObservation]):
    name = "api-key"
    title = "Generate the API key"
    observation = ApiKeyObservation

    def observe(self, run: Run, seen: Observations) -> ApiKeyObservation:
        consumer = seen["api-consumer"]
        assert isinstance(consumer, ApiConsumerObservation)
        base = {"consumer": consumer.name, "sink": run.sink.description}
        if not consumer.found:
            return ApiKeyObservation(**base, inferred=True, seen="the consumer is not there yet")
        if consumer.key_prefix is None:
            return ApiKeyObservation(**base, consumer_id=consumer.consumer_id, seen="the consumer has no key")
        stored = run.sink.load(consumer.consumer_id or "")
        if stored is not None:
            run.secrets.add(stored.api_key)
        held = stored is not None and stored.matches(consumer.key_prefix)
        scopes = run.consumers.show(consumer.consumer_id or "").key_scopes if held else None
        return ApiKeyObservation(
            **base,
            consumer_id=consumer.consumer_id,
            key_prefix=consumer.key_prefix,
            held=held,
            key_scopes=scopes,
            seen=f"key {consumer.key_prefix}… " + (f"held in {run.sink.description}" if held else f"not in {run.sink.description}"),
        )

    def decide(self, observation: ApiKeyObservation, seeds: SeedSet, options: Options) -> Decision:
        scopes = seeds.api_consumer.key_scopes
        where = ApiConsumersTexts.SHOW_PATH.format(id=observation.consumer_id or NEW_CONSUMER)
        values = {"scopes": " ".join(scopes), "key sink": observation.sink, "consumer": observation.consumer}
        generate = [Write(self.name, "generate API key", where, values)]
        if observation.inferred:
            return Decision(Action.CREATE, observation.seen, generate)
        if observation.key_prefix is None:
            return Decision(Action.CREATE, "the consumer has no key", generate)
        regenerate = Write(
            self.name, "regenerate API key (revokes the current one)", where, {**values, "current key": f"{observation.key_prefix}…"}
        )
        if options.rotate_key:
            return Decision(Action.UPDATE, "--rotate-key", [regenerate])
        if not observation.held:
            return Decision(
                Action.BLOCKED,
                f"the consumer has a key ({observation.key_prefix}…) that {observation.sink} does not hold: "
                "nobody has it (lost after it was created?)",
                [regenerate],
            )
        if observation.key_scopes and sorted(observation.key_scopes) != sorted(scopes):
            return Decision(
                Action.DRIFT,
                "the key's scopes differ from the seeds; pass --rotate-key for a key with the seeded scopes",
                diffs=[Diff("keyScopes", " ".join(scopes), " ".join(observation.key_scopes))],
            )
        return Decision(Action.NONE, f"key {observation.key_prefix}… held in {observation.sink}")

    def act(self, run: Run, decision: Decision, seen: Observations) -> tuple[StepResult, Observation | None]:
        before = seen[self.name]
        consumer = seen["api-consumer"]
        assert isinstance(before, ApiKeyObservation) and isinstance(consumer, ApiConsumerObservation)
        consumer_id = consumer.consumer_id
        if settled := self.settled(decision, api_consumer_id=consumer_id):
            return settled, None
        if consumer_id is None:
            return self.result(Status.BLOCKED, "no consumer to hold the key"), None
        (write,) = decision.writes
        if decision.action == Action.BLOCKED:
            # A key nobody holds: only --rotate-key or the operator's yes at the prompt replaces it.
            if not (run.approver.interactive and run.approve(write)):
                raise NeedsDecision(
                    decision.detail,
                    where=f"step {self.name}, consumer {write.values['consumer']}",
                    hint="re-run with --rotate-key to revoke it and store a new key in the sink "
                    "(or --confirm to decide at the prompt); if the key is in another sink, pass that --key-sink",
                )
        elif not run.approve(write):
            return self.result(Status.SKIPPED, "skipped by the operator"), None
        replace = decision.action != Action.CREATE
        key = self._generate(run, consumer_id, replace, write.values["scopes"].split(), write.values["consumer"])
        run.writes += 1
        prefix = key[:8]
        del key
        verb = "regenerated" if replace else "generated"
        after = before.model_copy(update={"consumer_id": consumer_id, "key_prefix": prefix, "held": True, "inferred": False})
        return self.result(Status.CREATED, f"key {prefix}… {verb}, stored in {run.sink.description}", api_consumer_id=consumer_id), after

    @staticmethod
    def _generate(run: Run, consumer_id: str, replace: bool, scopes: list[str], consumer_name: str) -> str:
        """The key's one appearance: not recorded in the trace, straight into the sink.

        Whatever happens while it is on screen, the key is registered as a secret (if it can
        be read at all) and the page is left before recording resumes or a failure screenshot
        is taken.
        """
        run.sink.check_writable(consumer_name, consumer_id)  # e.g. an envfile's: another consumer's key is not hidden
        pages = run.consumers
        pages.show(consumer_id, reuse_open_page=True)  # where creating the consumer landed, if it did
        pages.open_key_form(scopes)

        def forget_key() -> None:
            run.secrets.add(pages.key_on_screen())
            pages.leave_key_page()

        with unrecorded(run, forget_key):
            key = pages.reveal_key(replace_existing=replace)
            run.secrets.add(key)
            if not key or any(c.isspace() or not c.isprintable() for c in key):
                # an empty field (the key shown elsewhere on a new page) would be stored as "no key" and said stored
                raise StepFailed(
                    "the API key was generated but its field held no usable key (empty, or with spaces or control "
                    "characters): nothing was stored",
                    where=f"step api-key, key sink {run.sink.description}",
                    hint="look at the key page with --headed (`ihub-bootstrap doctor` cannot generate a key), set "
                    "api_consumers.key_field in a --ui-texts file if the key is shown elsewhere, then run "
                    "`apply --rotate-key`: it revokes the lost key and stores a new one",
                )
            try:
                run.sink.store(consumer_id, consumer_name, key)
            except Exception as exc:  # noqa: BLE001  (any sink failure: the key exists and nobody holds it)
                why = exc.message if isinstance(exc, IhubError) else exc.__class__.__name__  # ours name no secret
                raise StepFailed(
                    f"the API key was generated but could not be stored in {run.sink.description} ({why})",
                    where=f"step api-key, key sink {run.sink.description}",
                    hint="fix the key sink, then run `apply --rotate-key`: it revokes the lost key and stores a new one",
                ) from None
        return key
