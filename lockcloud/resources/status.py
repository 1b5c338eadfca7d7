"""Status: a typed snapshot of what a lock last reported (battery, door, bolt, last alarm).

Reach it as ``cloud.status``.
"""

from __future__ import annotations

from collections.abc import Iterable

from lockcloud._core import validation as check
from lockcloud._core.errors import UnexpectedResponseError, ValidationError
from lockcloud.history_models import LockStatus, read_status
from lockcloud.resources._base import Resource

__all__ = ["Status"]


class Status(Resource):
    """The status endpoint of one :class:`~lockcloud.LockCloud` (``Status(cloud)``)."""

    async def get(self, device_id: str, codes: Iterable[str] | None = None) -> LockStatus:
        """The lock's reported properties (GET ``/v2.0/cloud/thing/{device_id}/shadow/properties``).

        ``codes`` limits the answer to some DP codes (``residual_electricity``, ``closed_opened`` ...); every
        property is kept in :attr:`~lockcloud.LockStatus.properties`.
        """
        device = check.device_id(device_id)
        params = None
        if codes is not None:
            if isinstance(codes, str):
                codes = [codes]
            spelled = [check.path_part(code, "codes") for code in codes]
            if not spelled or any("," in code for code in spelled):
                raise ValidationError("codes must name at least one DP code (no commas), or be None for all")
            params = {"codes": ",".join(dict.fromkeys(spelled))}
        path = f"/v2.0/cloud/thing/{device}/shadow/properties"
        result = await self._get_raw(path, params=params)
        try:
            return read_status(device, result)
        except (TypeError, ValueError) as exc:
            raise UnexpectedResponseError(
                f"the shadow properties do not fit LockStatus: {exc}",
                method="GET",
                path=path,
                status_code=200,
                body=b"",
            ) from None
