"""Set-up, training and process supervision behind `hamsafar setup/train/run/chat`."""
