"""Resource limits of one execution, as the host chooses them and the worker applies them."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1 << 20


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 5.0  # wall clock per check, per test, and for loading the candidate
    memory_mb: int = 1024  # RLIMIT_AS of each child
    total_memory_mb: int | None = None  # resident memory of all a run's processes (2x memory_mb)
    setup_timeout_s: float = 30.0  # pytest start-up and collection
    processes: int = 64  # RLIMIT_NPROC headroom above what the uid already runs
    file_size_mb: int = 64  # RLIMIT_FSIZE: also caps a flood of output
    open_files: int = 256  # RLIMIT_NOFILE
    output_limit: int = 32 * 1024  # characters of captured output kept per check
    scratch_mb: int = 512  # size of the scratch tmpfs (strong isolation)
    tmp_mb: int = 128  # size of /tmp (strong isolation)
    max_file_bytes: int = 2 * MIB  # project files larger than this are not copied
    max_project_bytes: int = 64 * MIB  # a bigger project is refused

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.setup_timeout_s <= 0:
            raise ValueError("timeouts must be positive")
        if self.memory_mb < 64:
            raise ValueError("memory_mb must be at least 64")

    def wire(self) -> dict[str, int]:
        """The rlimits sent to the worker with each job."""
        return {
            "memory_bytes": self.memory_mb * MIB,
            "fsize_bytes": self.file_size_mb * MIB,
            "nofile": self.open_files,
            "nproc": self.processes,
            "total_memory_bytes": (self.total_memory_mb or 2 * self.memory_mb) * MIB,
        }
