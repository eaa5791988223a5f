"""Where uploaded files are kept: Django's storage interface, the ``documents`` storage
in settings (the data directory by default; a cloud backend can replace it there)."""

from django.core.files.storage import Storage, storages


def document_storage() -> Storage:
    return storages["documents"]
