"""Dashboard users: argon2 hashes, roles, demo users, `lagebild users`."""

from __future__ import annotations

import io
import stat

import pytest

from dashboards.auth import (
    DEMO_PASSWORD,
    add_user,
    authenticate,
    ensure_demo_users,
    has_regular_users,
    list_users,
    load_users,
    remove_user,
)
from kernel.errors import UserError
from pipelines.cli import main


@pytest.fixture
def users_file(tmp_path):
    return tmp_path / "users.yaml"


def test_add_and_authenticate(users_file):
    add_user(users_file, "anna", "koordination", "geheim-geheim")
    text = users_file.read_text(encoding="utf-8")
    assert "geheim-geheim" not in text
    assert "$argon2id$" in text
    assert stat.S_IMODE(users_file.stat().st_mode) == 0o600
    user = authenticate(users_file, "anna", "geheim-geheim")
    assert user is not None and user.role == "koordination" and user.provider is None
    assert authenticate(users_file, "anna", "falsch-falsch") is None
    assert authenticate(users_file, "niemand", "geheim-geheim") is None
    assert authenticate(users_file, "", "") is None


def test_hashes_are_salted(users_file):
    add_user(users_file, "a1", "evaluation", "gleiches-passwort")
    add_user(users_file, "a2", "evaluation", "gleiches-passwort")
    users = load_users(users_file)
    assert users["a1"]["hash"] != users["a2"]["hash"]


def test_traeger_needs_provider(users_file):
    with pytest.raises(UserError):
        add_user(users_file, "tina", "traeger", "geheim-geheim")
    with pytest.raises(UserError):
        add_user(users_file, "karl", "koordination", "geheim-geheim", provider="p01")
    u = add_user(users_file, "tina", "traeger", "geheim-geheim", provider="p01")
    assert authenticate(users_file, "tina", "geheim-geheim").provider == "p01" == u.provider


def test_bad_input(users_file):
    with pytest.raises(UserError):
        add_user(users_file, "x", "koordination", "geheim-geheim")  # name too short
    with pytest.raises(UserError):
        add_user(users_file, "anna", "admin", "geheim-geheim")
    with pytest.raises(UserError):
        add_user(users_file, "anna", "koordination", "kurz")


def test_remove_and_list(users_file):
    add_user(users_file, "anna", "koordination", "geheim-geheim")
    add_user(users_file, "bert", "foerderer", "geheim-geheim")
    assert [u.name for u in list_users(users_file)] == ["anna", "bert"]
    assert remove_user(users_file, "anna")
    assert not remove_user(users_file, "anna")
    assert authenticate(users_file, "anna", "geheim-geheim") is None


def test_demo_users_only_in_demo_mode(users_file):
    users = ensure_demo_users(users_file, "p01")
    assert {u.role for u in users} == {"koordination", "traeger", "evaluation", "foerderer"}
    assert all(u.label.startswith("Demo:") for u in users)
    assert authenticate(users_file, "demo-koordination", DEMO_PASSWORD) is None
    u = authenticate(users_file, "demo-traeger", DEMO_PASSWORD, allow_demo=True)
    assert u.demo and u.provider == "p01"
    assert not has_regular_users(users_file)
    # idempotent
    before = load_users(users_file)["demo-evaluation"]["hash"]
    ensure_demo_users(users_file, "p01")
    assert load_users(users_file)["demo-evaluation"]["hash"] == before


def test_cli_users(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("ein-langes-passwort\n"))
    rc = main(
        [
            "users",
            "add",
            "tina",
            "--role",
            "traeger",
            "--provider",
            "p02",
            "--password-stdin",
            "--workspace",
            str(tmp_path),
        ]
    )
    assert rc == 0
    assert "angelegt" in capsys.readouterr().out
    assert authenticate(tmp_path / "users.yaml", "tina", "ein-langes-passwort").provider == "p02"
    assert main(["users", "list", "--workspace", str(tmp_path)]) == 0
    assert "tina" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("ein-langes-passwort\n"))
    rc = main(
        [
            "users",
            "add",
            "tina",
            "--role",
            "traeger",
            "--password-stdin",
            "--workspace",
            str(tmp_path),
        ]
    )
    assert rc == 2
    assert "Pflicht" in capsys.readouterr().err
    assert main(["users", "remove", "tina", "--workspace", str(tmp_path)]) == 0
    assert main(["users", "remove", "tina", "--workspace", str(tmp_path)]) == 2


def test_users_added_at_the_same_time_are_all_kept(users_file, monkeypatch):
    """Two administrators (or two setups) adding users at once: each reads, changes and
    writes the file under one lock, so no one writes back a file that misses the other's
    user. The write is slowed down (a slow disk) to make the window wide."""
    import threading
    import time

    from dashboards import auth

    save = auth._save_users

    def slow_save(path, users):
        time.sleep(0.05)
        save(path, users)

    monkeypatch.setattr(auth, "_save_users", slow_save)
    names = [f"nutzer{i}" for i in range(6)]
    threads = [
        threading.Thread(target=add_user, args=(users_file, n, "evaluation", "geheim-geheim"))
        for n in names
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(load_users(users_file)) == names
    removers = [threading.Thread(target=remove_user, args=(users_file, n)) for n in names[:3]]
    for t in removers:
        t.start()
    for t in removers:
        t.join()
    assert sorted(load_users(users_file)) == names[3:]
    lock = users_file.with_name(".users.yaml.lock")
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "text",
    [
        "- anna\n- ben\n",
        "just text\n",
        "users: [anna]\n",
        "users:\n  anna: 5\n",
        "users:\n  anna: [x]\n",
    ],
)
def test_a_users_file_of_another_shape_is_a_users_file_error(users_file, text):
    """The login page and `authenticate` catch UsersFileError; a list or a scalar where the
    records belong raised AttributeError or TypeError before, and the login page crashed."""
    from dashboards.auth import UsersFileError

    users_file.write_text(text, encoding="utf-8")
    with pytest.raises(UsersFileError):
        load_users(users_file)
    assert authenticate(users_file, "anna", "geheim-geheim") is None  # no login, no crash
    assert has_regular_users(users_file) is False


def test_the_users_lock_needs_no_write_access_and_follows_no_link(users_file, tmp_path):
    """A lock file made read-only still locks; a symbolic link in its place is refused,
    nothing is created where it points."""
    import os

    add_user(users_file, "anna", "koordination", "geheim-geheim")
    lock = users_file.with_name(".users.yaml.lock")
    lock.chmod(0o400)
    add_user(users_file, "ben", "evaluation", "geheim-geheim")
    assert sorted(load_users(users_file)) == ["anna", "ben"]
    lock.unlink()
    target = tmp_path / "elsewhere" / "planted"
    target.parent.mkdir()
    lock.symlink_to(target)
    with pytest.raises(OSError):
        add_user(users_file, "carla", "evaluation", "geheim-geheim")
    assert not os.path.lexists(target)
    assert sorted(load_users(users_file)) == ["anna", "ben"]


def test_removing_an_unknown_user_needs_no_lock(users_file, monkeypatch):
    """A read-only workspace cannot make the lock file: an unknown name is still „not
    found“, and removing a known one fails there, with the user kept."""
    import dashboards.auth as auth

    add_user(users_file, "anna", "koordination", "geheim-geheim")

    def read_only(path):
        raise PermissionError(13, "Keine Berechtigung", str(path))

    monkeypatch.setattr(auth, "_users_lock", read_only)
    assert not remove_user(users_file, "bert")
    with pytest.raises(PermissionError):
        remove_user(users_file, "anna")
    assert list(load_users(users_file)) == ["anna"]
