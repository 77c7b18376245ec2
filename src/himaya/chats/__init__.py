"""Messages, chats and identities read from a case's phone databases: stored, linked to the case's files,
merged into persons, and read back for exports, reports and the review app."""
