"""Logs and metrics shared by the gateway and the action server (README "Production", "Operators can see it")."""
