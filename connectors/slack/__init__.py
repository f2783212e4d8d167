"""Slack: the Bolt ingress (app.py, http.py, socket.py) and the dispatcher platform (delivery.py, render.py,
mrkdwn.py). docs/slack.md."""
