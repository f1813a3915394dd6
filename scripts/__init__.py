"""Developer commands: starting the three processes together (`make run`) and helpers the tests share."""
