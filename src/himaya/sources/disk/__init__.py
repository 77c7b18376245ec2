"""Disk images as evidence: container formats, volumes, encryption, file systems (dfVFS + pytsk3)."""
