"""Phone and social-media artifacts: chat, SMS and contact databases read into messages and identities.

Each app's database is read by a small parser (`interface.ArtifactParser`) recognised by the tables and
columns it finds, never by the file's name; `manager` holds the registry; `database` opens a private
copy of a database with its `-wal` / `-journal` files applied, so evidence is never modified.
"""
