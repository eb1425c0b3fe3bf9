"""`hamsafar setup | train | run | chat | config`."""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from typing import Optional

from bot import settings


def register(subparsers: argparse._SubParsersAction) -> None:
    setup = subparsers.add_parser("setup", help="spaCy model, database, demo shop and a trained model")
    setup.add_argument("--no-train", action="store_true", help="skip training")
    setup.set_defaults(func=cmd_setup)

    train = subparsers.add_parser("train", help="train the Rasa model (skipped when nothing changed)")
    train.add_argument("--force", action="store_true")
    train.set_defaults(func=cmd_train)

    run = subparsers.add_parser("run", help="set up, then run the action server and the Rasa server")
    # Defaults from the settings are resolved when the command runs, after they are validated.
    run.add_argument("--host", default=None, help="interface of the Rasa server (default HAMSAFAR_HOST, 127.0.0.1)")
    run.add_argument("--port", type=int, default=None, help="default HAMSAFAR_PORT, 5005")
    run.add_argument("--actions-port", type=int, default=None, help="default HAMSAFAR_ACTIONS_PORT, 5055")
    run.add_argument("--skip-setup", action="store_true", help="use the existing model and database as they are")
    run.add_argument("--skip-train", action="store_true", help="prepare the database but use the newest model as it is")
    run.add_argument("--telegram-polling", action="store_true", help="poll Telegram instead of receiving its webhook")
    run.add_argument("--bale-polling", action="store_true", help="poll Bale instead of receiving its webhook")
    run.add_argument("--workers", type=int, default=1,
                     help="N >= 2: N Rasa processes behind nginx on PostgreSQL, Redis and RabbitMQ (docs/deploy.md); "
                          "1 (default): one process")
    run.set_defaults(func=cmd_run)

    chat = subparsers.add_parser("chat", help="chat with a running bot from the terminal")
    chat.add_argument("--url", default=None, help="default http://127.0.0.1:<HAMSAFAR_PORT>")
    chat.add_argument("--sender", default=None, help="conversation name (default: a new one)")
    chat.set_defaults(func=cmd_chat)

    config = subparsers.add_parser("config", help="print the effective settings (secrets masked) and check them")
    config.add_argument("--markdown", action="store_true", help="the table of every setting (docs/settings.md)")
    config.set_defaults(func=cmd_config)


def cmd_setup(args: argparse.Namespace) -> int:
    from bot.runtime.setup import prepare_all

    prepare_all(train=not args.no_train)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from bot.runtime.setup import prepare_spacy_model, train_if_needed

    prepare_spacy_model()
    print(train_if_needed(force=args.force))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.runtime.chat import chat

    configured = settings.current()
    return chat(args.url or f"http://127.0.0.1:{configured.port}", args.sender, configured.rest_token)


def cmd_config(args: argparse.Namespace) -> int:
    """Effective settings (or, with --markdown, the documentation table); 2 on an unusable value."""
    if args.markdown:
        print(settings.markdown_table(), end="")
        return 0
    for warning in settings.unknown_variables():
        print(f"[hamsafar] warning: {warning}", file=sys.stderr, flush=True)
    try:
        configured = settings.current()
    except settings.SettingsError as error:
        print(f"[hamsafar] invalid settings: {error}", file=sys.stderr, flush=True)
        return 2
    print(settings.text_table(settings.rows(configured)), end="")
    return 0


def setup_started_at() -> float:
    """When set-up began: the bootstrap script's timestamp, else now."""
    started = settings.current().setup_started
    return time.time() if started is None else started


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def open_rest_refusal(host: str) -> Optional[str]:
    """Why `run` must not listen on `host`, or None.

    The REST channel answers any `sender`, so off loopback without `HAMSAFAR_REST_TOKEN`
    anyone who guesses a sender could read and act in that customer's conversation
    (an SMS-verified one included). Allowed only when the operator says so explicitly
    with `HAMSAFAR_ALLOW_OPEN_REST=1` (e.g. a reverse proxy that authenticates)."""
    configured = settings.current()
    if host in LOOPBACK_HOSTS or configured.rest_token or configured.allow_open_rest:
        return None
    return (f"[hamsafar] refusing to listen on {host} without HAMSAFAR_REST_TOKEN: the REST channel would let "
            "anyone who guesses a sender into that customer's conversation. Set HAMSAFAR_REST_TOKEN (callers send "
            "'Authorization: Bearer <token>'), listen on 127.0.0.1, or set HAMSAFAR_ALLOW_OPEN_REST=1 if something "
            "in front authenticates the REST callers.")


def cmd_run(args: argparse.Namespace) -> int:
    from bot.runtime.setup import child_environment, prepare_all
    from bot.runtime.supervisor import ManagedProcess, Supervisor, wait_for_http

    refusal = settings.refusal_at_start()
    if refusal:
        print(refusal, file=sys.stderr, flush=True)
        return 2
    started = setup_started_at()
    configured = settings.current()
    args.host = configured.host if args.host is None else args.host
    args.port = configured.port if args.port is None else args.port
    args.actions_port = configured.actions_port if args.actions_port is None else args.actions_port
    from bot.identity.verification import missing_pepper_refusal

    refusal = open_rest_refusal(args.host) or missing_pepper_refusal()
    if refusal:
        print(refusal, file=sys.stderr, flush=True)
        return 2
    if args.workers > 1:
        from bot.runtime.topology import refusal as topology_refusal

        refusal = topology_refusal()
        if refusal:
            print(refusal, file=sys.stderr, flush=True)
            return 2
    if not args.skip_setup:
        prepare_all(train=not args.skip_train)
    env = child_environment({
        "HAMSAFAR_ACTIONS_URL": f"http://127.0.0.1:{args.actions_port}/webhook",
        "HAMSAFAR_ACTION_TOKEN": configured.action_token or secrets.token_urlsafe(24),
    })
    polling = {}
    if args.telegram_polling:
        polling["HAMSAFAR_TELEGRAM_MODE"] = "polling"
    if args.bale_polling:
        polling["HAMSAFAR_BALE_MODE"] = "polling"
    if args.workers > 1:
        return run_topology(args, env, polling, started)
    env.update(polling)
    root = str(settings.PROJECT_ROOT)
    actions = ManagedProcess(
        "action server",
        [sys.executable, "-m", "bot.runtime.action_server", "--port", str(args.actions_port)],
        env, root,
    )
    rasa = ManagedProcess(
        "Rasa server",
        [sys.executable, "-m", "bot.runtime.rasa_server", "run", "--model", "models", "--endpoints", configured.endpoints,
         "--credentials", "credentials.yml", "--interface", args.host, "--port", str(args.port)],
        env, root,
    )
    supervisor = Supervisor([actions, rasa])
    supervisor.start()
    base = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{args.port}"
    ready = wait_for_http(f"http://127.0.0.1:{args.actions_port}/health", 120, supervisor.all_alive) and \
        wait_for_http(base + "/", 300, supervisor.all_alive)
    if ready:
        print(
            "\n"
            "  Hamsafar is running — همسفر آماده است\n"
            f"  Chat in the browser (demo shop + widget): {base}/webhooks/web/demo\n"
            f"  Chat in the terminal:                     hamsafar chat --url {base}\n"
            f"  REST channel:                             POST {base}/webhooks/rest/webhook\n"
            f"  Set-up took {time.time() - started:.0f}s. Ctrl-C stops both servers.\n",
            flush=True,
        )
    return supervisor.wait()


def run_topology(args: argparse.Namespace, env: dict, polling: dict, started: float) -> int:
    """`run --workers N`: supervise nginx, N Rasa workers, the action server and the touchpoint consumer."""
    from bot.runtime import topology as topo
    from bot.runtime.supervisor import Supervisor, wait_for_http

    layout = topo.plan(args.workers, args.host, args.port, args.actions_port)
    supervisor = Supervisor(topo.processes(layout, env, polling), announce=True)
    for line in topo.describe(layout):
        print(f"[hamsafar] {line}", flush=True)
    supervisor.start()
    ready = wait_for_http(f"http://127.0.0.1:{args.actions_port}/health", 120, supervisor.all_alive) and all(
        wait_for_http(f"http://127.0.0.1:{port}/", 300, supervisor.all_alive) for port in layout.worker_ports
    ) and wait_for_http(layout.public_url + "/", 60, supervisor.all_alive)
    if ready:
        base = layout.public_url
        print(
            "\n"
            f"  Hamsafar is running — همسفر آماده است ({args.workers} Rasa workers behind nginx)\n"
            f"  Chat in the browser (demo shop + widget): {base}/webhooks/web/demo\n"
            f"  Chat in the terminal:                     hamsafar chat --url {base}\n"
            f"  REST channel:                             POST {base}/webhooks/rest/webhook\n"
            f"  Set-up took {time.time() - started:.0f}s. Ctrl-C stops every part.\n",
            flush=True,
        )
    return supervisor.wait()
