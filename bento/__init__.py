"""The survival model's BentoML service (service.py) and what it is built from."""
