"""Job: a run's start (`init`) and end (`commit`: what bookmarked sources read is sent to the metastore,
which commits it when the run succeeds)."""

from __future__ import annotations

from awsglue import _bookmarks as B


class Job:
    def __init__(self, glue_context):
        self._glue_context = glue_context
        self._name: str | None = None
        self._args: dict = {}
        self._committed = False

    @classmethod
    def continuation_options(cls) -> list[str]:
        return ["--continuation-option", "continuation-enabled", "continuation-readonly", "continuation-ignore"]

    @classmethod
    def job_bookmark_options(cls) -> list[str]:
        return ["--job-bookmark-option", B.ENABLE, B.PAUSE, B.DISABLE]

    @classmethod
    def job_bookmark_range_options(cls) -> list[str]:
        return ["--job-bookmark-from", "--job-bookmark-to"]

    def init(self, job_name: str, args: dict | None = None) -> None:
        option = B.option()
        if option not in (B.ENABLE, B.PAUSE, B.DISABLE):
            from awsglue.utils import GlueArgumentError

            raise GlueArgumentError(f"--job-bookmark-option {option!r} is not one of {B.ENABLE}, {B.PAUSE}, {B.DISABLE}")
        self._name = job_name
        self._args = dict(args or {})

    def isInitialized(self) -> bool:  # noqa: N802
        return self._name is not None

    def commit(self) -> None:
        """Record what the run's bookmarked sources read (only with job-bookmark-enable): the metastore commits
        it when the run succeeds. Sources read after commit() are not recorded."""
        if self._name is None:
            raise RuntimeError("Job.commit() before Job.init()")
        if B.option() == B.ENABLE:
            B.record(self._glue_context._pending)
        self._glue_context._pending = {}
        self._committed = True
