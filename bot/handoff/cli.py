"""`hamsafar agents ...`: console users (agent, admin, analyst)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("agents", help="agent console users")
    commands = parser.add_subparsers(dest="agents_command", metavar="ACTION")

    add = commands.add_parser("add", help="create a console user")
    add.add_argument("login")
    add.add_argument("--role", choices=["agent", "admin", "analyst"], default="agent")
    add.add_argument("--name", default="", help="name shown to customers (default: the login)")
    add.add_argument("--password-env", metavar="VAR",
                     help="read the password from this environment variable (default: prompt)")
    add.set_defaults(func=_add, uses_database=True)

    password = commands.add_parser("password", help="set a new password (ends the user's sessions)")
    password.add_argument("login")
    password.add_argument("--password-env", metavar="VAR")
    password.set_defaults(func=_password, uses_database=True)

    for name, active in (("disable", False), ("enable", True)):
        sub = commands.add_parser(name, help=f"{name} a console user")
        sub.add_argument("login")
        sub.set_defaults(func=lambda args, active=active: _active(args, active), uses_database=True)

    listing = commands.add_parser("list", help="list console users")
    listing.set_defaults(func=_list, uses_database=True)
    parser.set_defaults(func=lambda args: (parser.print_help() or 2))


def _read_password(args: argparse.Namespace) -> str:
    if args.password_env:
        value = os.environ.get(args.password_env)
        if not value:
            raise SystemExit(f"environment variable {args.password_env} is empty")
        return value
    first = getpass.getpass("Password (10+ characters): ")
    if first != getpass.getpass("Repeat: "):
        raise SystemExit("passwords differ")
    return first


def _add(args: argparse.Namespace) -> int:
    from bot.handoff import service

    try:
        agent = service.create_agent(args.login, _read_password(args), args.role, args.name)
    except service.AgentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    service.audit("cli", "agent_create", detail={"login": agent["login"], "role": agent["role"]})
    print(f"created {agent['role']} {agent['login']}")
    return 0


def _password(args: argparse.Namespace) -> int:
    from bot.handoff import service

    try:
        service.set_password(args.login, _read_password(args))
    except service.AgentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    service.audit("cli", "agent_password", detail={"login": args.login})
    print(f"password of {args.login} changed")
    return 0


def _active(args: argparse.Namespace, active: bool) -> int:
    from bot.handoff import service

    try:
        service.set_active(args.login, active)
    except service.AgentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    service.audit("cli", "agent_activate" if active else "agent_deactivate", detail={"login": args.login})
    print(f"{args.login} {'enabled' if active else 'disabled'}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from bot.handoff import service

    for agent in service.list_agents():
        print(f"{agent['login']}\t{agent['role']}\t{'active' if agent['active'] else 'disabled'}\t{agent['display_name']}")
    return 0
