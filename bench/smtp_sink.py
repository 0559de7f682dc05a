"""A local SMTP server (aiosmtpd) that accepts every message and counts them, for the invitation round.

    python bench/smtp_sink.py PORT COUNT_FILE

It listens on 127.0.0.1:PORT until SIGTERM, then writes how many messages it accepted, how many
recipients, and when it accepted the first and the last message (`time.monotonic()`, the same
clock for every process of the machine) to COUNT_FILE as "messages recipients first last". The
delivery rate is taken between the first and the last message the server accepted, for the product
and for plain smtplib alike: neither a process starting nor a connection opening is in it."""

import signal
import sys
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller


class Counter:
    def __init__(self):
        self.messages = 0
        self.recipients = 0
        self.first = self.last = 0.0

    async def handle_DATA(self, server, session, envelope):
        self.last = time.monotonic()
        if not self.messages:
            self.first = self.last
        self.messages += 1
        self.recipients += len(envelope.rcpt_tos)
        return "250 Message accepted"


def main():
    port, count_file = int(sys.argv[1]), Path(sys.argv[2])
    counter = Counter()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    controller = Controller(counter, hostname="127.0.0.1", port=port, data_size_limit=50 * 1024 * 1024)
    controller.start()
    try:
        stop.wait()
    finally:
        controller.stop()
        count_file.write_text(f"{counter.messages} {counter.recipients} {counter.first} {counter.last}\n")


if __name__ == "__main__":
    main()
