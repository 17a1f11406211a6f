"""What the service shares with the pipeline, packed into the bento: the input contract, the
feature code, the model registry, the prediction log and the model sync for other machines.
Standard library and numpy at module level only."""
