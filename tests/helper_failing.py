"""A helper whose loading fails (tests/unit/test_helper_folders.py): it must still leave
through `helper_process._leave`, its temporary folder removed."""

from pipelines.helper_process import serve


def _prepare():
    raise RuntimeError("loading failed")


if __name__ == "__main__":
    serve(_prepare, lambda request, prepared: {})
