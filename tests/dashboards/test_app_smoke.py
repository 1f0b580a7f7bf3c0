from tests.dashboards.apptest import app, frames, logged_in, open_view, texts


def test_login_required(workspace, monkeypatch):
    at = app(workspace, monkeypatch)
    at.run()
    assert not at.exception
    assert at.text_input(key="login_name") is not None
    assert "Überblick" not in texts(at)


def test_overview_koordination(workspace, monkeypatch):
    at = logged_in(workspace, monkeypatch, "koordination")
    at, secs = open_view(at, "ueberblick")
    assert not at.exception, at.exception
    print(texts(at)[:2000], secs)
    print(frames(at)[0])
