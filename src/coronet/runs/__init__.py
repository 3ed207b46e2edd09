"""The run folder: its layout, its writes and its writer (`folder`), and report.md (`markdown`)."""

from coronet.runs.folder import (
    CHECKPOINT,
    CONFIG,
    LOCK,
    LOG,
    REPORT,
    REPORT_MD,
    TEMPORARY,
    RunBusyError,
    RunDir,
    exported_generators,
    write_text_atomically,
)

__all__ = ["CHECKPOINT", "CONFIG", "LOCK", "LOG", "REPORT", "REPORT_MD", "TEMPORARY",
           "RunBusyError", "RunDir", "exported_generators", "write_text_atomically"]
