"""Small local fakes of platform HTTP APIs (Slack, Telegram) for the gateway tests."""
