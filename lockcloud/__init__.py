from lockcloud._errors import *  # noqa: F403
