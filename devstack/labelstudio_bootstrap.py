"""Run by the Label Studio virtual environment's Python (never by harmwatch's): accounts without the UI.

Label Studio 1.23 authenticates API calls with personal access tokens (JWT refresh tokens; the legacy
tokens are off by default) and offers no command that creates one. This script does what the sign-up
page and the "Personal Access Token" button do, through Label Studio's own models, so a fresh stack
needs no clicks: it migrates the database, creates the organisation, the admin and the moderator
accounts (idempotent: an existing account keeps its password), and creates one personal access token
per account that has none yet.

Input (stdin, JSON): ``{"organization": str, "accounts": [{"email": str, "password": str}, ...]}``.
Output (stdout, last line, JSON): ``{email: token or null}`` — null when the account already had a
token (only its creator ever sees a token; the caller keeps the ones it was given).
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    spec = json.load(sys.stdin)
    # Label Studio's modules import each other as top-level packages (``organizations``, ``users``):
    # the caller puts its package folder on PYTHONPATH, as Label Studio's own start-up does.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "label_studio.core.settings.label_studio")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", "--no-color", verbosity=0)

    from jwt_auth.models import LSAPIToken
    from organizations.models import Organization
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
    from users.models import User

    tokens: dict[str, str | None] = {}
    org = None
    for account in spec["accounts"]:
        user = User.objects.filter(email=account["email"]).first()
        if user is None:
            user = User.objects.create_user(email=account["email"], password=account["password"])
            user.first_name = account.get("name", "")
            user.save()
        if org is None:
            org = Organization.objects.first() or Organization.create_organization(
                created_by=user, title=spec["organization"]
            )
        org.add_user(user)
        user.active_organization = org
        user.save(update_fields=["active_organization"])
        if OutstandingToken.objects.filter(user=user).exists():
            tokens[user.email] = None
        else:
            tokens[user.email] = LSAPIToken.for_user(user).get_full_jwt()
    print(json.dumps(tokens))


if __name__ == "__main__":
    main()
