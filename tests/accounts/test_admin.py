"""Staff work with accounts in the Django admin, signed in with a password."""

import pytest

from accounts.services import user_delete
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_browser(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    staff.set_password("correct horse battery staple")
    staff.save()
    client.post("/admin/login/?next=/admin/", {"username": staff.username, "password": "correct horse battery staple"})
    return client


def test_staff_find_a_player_by_public_id_and_open_their_page(staff_browser):
    player = UserFactory()
    listing = staff_browser.get("/admin/accounts/user/", {"q": str(player.public_id)})
    assert listing.status_code == 200
    assert player.username in listing.content.decode()
    page = staff_browser.get(f"/admin/accounts/user/{player.pk}/change/")
    assert page.status_code == 200
    assert str(player.public_id) in page.content.decode()


def test_deleted_accounts_show_as_deleted_in_the_admin(staff_browser):
    player = UserFactory()
    user_delete(user=player)
    page = staff_browser.get("/admin/accounts/user/", {"deleted_at__isnull": "False"})
    assert page.status_code == 200
    assert f"deleted_{player.public_id.hex}" in page.content.decode()


def test_staff_log_into_the_admin_with_a_password(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    staff.set_password("correct horse battery staple")
    staff.save()

    response = client.post(
        "/admin/login/?next=/admin/", {"username": staff.username, "password": "correct horse battery staple"}
    )

    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_admin_refuses_a_wrong_password(client):
    staff = UserFactory(is_staff=True)
    staff.set_password("right")
    staff.save()
    client.post("/admin/login/?next=/admin/", {"username": staff.username, "password": "wrong"})
    assert client.get("/admin/").status_code == 302  # back to the login page
