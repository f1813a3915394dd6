"""Slack channel tests: translation, the real Bolt app against a fake Slack Web API, staff alerts."""
