"""The Slack channel for store staff: Bolt (Socket Mode or Events API), Block Kit replies, staff alerts."""

from connectors.slack.alerts import SlackStaffAlerts
from connectors.slack.channel import SlackChannel, SlackSendFailed
from connectors.slack.settings import SlackSettings

__all__ = ["SlackChannel", "SlackSendFailed", "SlackSettings", "SlackStaffAlerts"]
