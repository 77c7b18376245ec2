"""Synthetic chat, SMS and contact databases with the real apps' table layouts (benign, made-up rows)."""
