"""Enrollment as one conversation: ``cloud.enroll(...)`` (defined in :mod:`lockcloud.resources.enrollment`)."""

from lockcloud.resources.enrollment import Enrollment, EnrollmentResult, EnrollmentStatus, EnrollOptions

__all__ = ["EnrollOptions", "Enrollment", "EnrollmentResult", "EnrollmentStatus"]
