"""Slack: the Bolt ingress (app.py wires starting.py and answers.py, served by http.py or socket.py) and the
dispatcher platform (delivery.py, render.py, mrkdwn.py). docs/slack.md."""
