"""One journey runner pass in a process of its own, for tests that kill it mid-send.

    python -m tests.support.journey_worker DATABASE_URL SMS_URL NOW_ISO LEASE_SECONDS

It runs what the Rasa server's background runner runs (`JourneyRunner.run_due`)
with SMS through the Kavenegar protocol to the fake gateway at SMS_URL, and a
lease of LEASE_SECONDS, so the test can SIGKILL it while a send is in flight
and let another runner take the entry over.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys


def main(argv: list) -> int:
    url, sms_url, now, lease = argv[1], argv[2], dt.datetime.fromisoformat(argv[3]), float(argv[4])
    os.environ["HAMSAFAR_DATABASE_URL"] = url
    from bot.orchestration.engine import Orchestrator
    from bot.orchestration.runner import JourneyRunner
    from tests.support.journeys import Outputs

    async def run() -> None:
        outputs = Outputs(sms_url, None)
        orchestrator = Orchestrator(database_url=url, worker="doomed", lease=dt.timedelta(seconds=lease))
        try:
            await JourneyRunner(orchestrator, outputs, None, scan=False).run_due(now)
        finally:
            await outputs.aclose()

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
