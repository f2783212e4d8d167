"""Telegram connector: python-telegram-bot ingress (webhook, polling; inbound.py hands each update to
addressing, router, answers and keys) and the dispatcher platform (delivery.py, render.py). docs/telegram.md."""
