"""Partners told apart, removals with a notice period, links shown once.

- membership.display_name: the name a partner goes by in one ledger, chosen
  when the name of their account reads like another partner's there (NULL:
  the account's name).
- removal.takes_effect_at: when removing the only other partner takes effect,
  seven days after it was asked (NULL: not in its notice period).
- invitation.link_sealed: a new invitation's link, sealed with a one-time key
  kept only in its maker's session, until the page that shows it once.

Plain ALTER TABLE ... ADD COLUMN on both engines (nullable, no default): no
table is rebuilt, so no child row can cascade away (see TOOLING.md).
"""

from peewee import CharField, DateTimeField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("membership", "display_name", CharField(max_length=80, null=True)),
        migrator.add_column("removal", "takes_effect_at", DateTimeField(null=True)),
        migrator.add_column("invitation", "link_sealed", CharField(max_length=128, null=True)),
        migrator.add_index("removal", ("takes_effect_at",)),
    )
