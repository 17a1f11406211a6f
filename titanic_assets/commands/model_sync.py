"""Keep a serving machine's BentoML store up to date with the bucket's serving model archive.

Beside a service on another machine (same BENTOML_HOME): each new archive the pipeline
exports for the model (core/model_sync.py) is imported into the local store, with the
challenger it carries and its record, and the service switches to them at its next poll:
every replica serves the same model and shadows with the same challenger. The model
(TITANIC_MODEL, the one the service beside it serves), bucket and prefix are the settings,
or the flags. With --metrics-port, `titanic_model_sync_skipped_total` (parts of an archive
skipped as half-written or unloadable) is served for Prometheus on that port.
"""

from __future__ import annotations

import argparse
import logging
import time

from titanic_assets.core.model_sync import BucketModelSource
from titanic_assets.core.settings import load_settings

logger = logging.getLogger("titanic.model_sync")


def main(argv: list[str] | None = None) -> None:
    """Poll the bucket forever (or once, with --once), importing each new serving model."""
    settings = load_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bucket", default=settings.gcs_bucket)
    parser.add_argument("--io-prefix", default=settings.gcs_io_prefix)
    parser.add_argument("--model", default=settings.model, help="a titanic_assets/defs/ folder")
    parser.add_argument("--poll-seconds", type=float, default=settings.model_poll_seconds)
    parser.add_argument("--once", action="store_true", help="pull once and exit")
    parser.add_argument(
        "--metrics-port", type=int, default=0, help="serve /metrics on this port (0: none)"
    )
    args = parser.parse_args(argv)
    if not args.bucket:
        parser.error("the bucket is needed: --bucket or TITANIC_GCS_BUCKET")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(args.metrics_port)
    source = BucketModelSource(args.bucket, args.io_prefix, args.model)
    while True:
        try:
            for change in source.pull():
                logger.info("Imported %s from gs://%s/%s", change, args.bucket, source.object_name)
        except Exception:  # a transient bucket error: keep the current model, try again
            logger.exception("Could not pull the serving model")
            if args.once:
                raise
        if args.once:
            return
        time.sleep(args.poll_seconds)


if __name__ == "__main__":
    main()
