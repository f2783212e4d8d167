"""Telegram connector: python-telegram-bot ingress (webhook, polling) and the dispatcher platform."""
