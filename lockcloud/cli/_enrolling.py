"""An enrollment drawn as a progress bar, for ``enroll`` and ``demo``; Ctrl-C cancels it at the lock, quickly."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from lockcloud.cli._output import Output
from lockcloud.cli._progress import ProgressBar
from lockcloud.enums import EnrollmentOperation, UnlockType, UserType
from lockcloud.resources.enrollment import EnrollmentResult, EnrollmentStatus

if TYPE_CHECKING:
    from lockcloud._client import LockCloud
    from lockcloud.events import EventStream

__all__ = ["CANCEL_CONFIRM_SECONDS", "enroll_with_progress", "interruption_note"]

#: How long an interrupted enrollment waits for the lock to confirm the cancel. Someone pressing Ctrl-C wants the
#: prompt back; the note says when the lock had not confirmed yet.
CANCEL_CONFIRM_SECONDS = 1.0


async def enroll_with_progress(
    cloud: LockCloud,
    stream: EventStream,
    out: Output,
    *,
    device_id: str,
    user_id: str,
    user_type: UserType,
    unlock_type: UnlockType,
    idle_timeout: float,
) -> EnrollmentResult:
    """Enroll through ``cloud.enroll`` and draw each ``doorUnlockMethodStatus`` push as progress."""
    enrollment = cloud.enroll(
        device_id,
        user_id=user_id,
        user_type=user_type,
        unlock_type=unlock_type,
        events=stream,
        idle_timeout=idle_timeout,
        cancel_timeout=CANCEL_CONFIRM_SECONDS,
    )
    try:
        with ProgressBar(out, f"{unlock_type.value}:") as bar:
            bar.update(0, None, "waiting for the lock")
            async with enrollment:
                remaining: int | None = None
                async for progress in enrollment:
                    total = progress.total_period or bar.total
                    # totalPeriod may come in a message of its own: keep the last count of presses still needed.
                    if progress.period is not None:
                        remaining = progress.period
                    done = total - remaining if total and remaining is not None else 0
                    if progress.finish:
                        note = "done"
                    elif progress.operate is EnrollmentOperation.CANCEL:
                        note = "cancelled"
                    elif not total or remaining is None:
                        note = "the lock is ready for the first press"
                    else:
                        note = f"{remaining} to go"
                    bar.update(done, total, note)
    except asyncio.CancelledError:
        out.note(interruption_note(enrollment.result))
        raise
    return enrollment.result


def interruption_note(result: EnrollmentResult) -> str:
    """What an interrupted enrollment left on the lock, in one line."""
    what = f"the {result.unlock_type.value} enrollment on {result.device_id}"
    if result.status is EnrollmentStatus.IN_PROGRESS:
        return f"interrupted before {what} was started: nothing to cancel on the lock"
    if result.status is EnrollmentStatus.COMPLETED:
        return f"interrupted after {what} had completed: nothing to cancel on the lock"
    if result.status is not EnrollmentStatus.CANCELLED:
        return f"interrupted after {what} ended ({result.status.value}): nothing to cancel on the lock"
    if result.cancel_confirmed:
        return f"interrupted: cancelled {what}; the lock confirmed"
    if result.cancel_confirmed is None:
        return f"interrupted while starting {what}: a cancel was sent to the lock"
    return (
        f"interrupted: asked the lock to cancel {what}; it did not confirm within {CANCEL_CONFIRM_SECONDS:g} s "
        "(check the lock)"
    )
