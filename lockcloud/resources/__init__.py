"""The resources layer: one module per family of Tuya lock APIs, reached as attributes of :class:`~lockcloud.LockCloud`.

Each module holds only paths, parameters and result models; the one signed transport below them owns signing,
tokens, retries and errors. :mod:`.unlock_methods` (``cloud.unlock_methods``), :mod:`.remote_unlock`
(``cloud.remote_unlock``) and :mod:`.enrollment` (``cloud.enroll(...)``, a conversation over the unlocking-method
calls and the push stream).
"""
