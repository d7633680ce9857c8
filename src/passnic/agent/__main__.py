"""``python -m passnic.agent run --config FILE``: the host agent without the rest of the CLI."""

from passnic.agent.cli import agent_app

agent_app(prog_name="passnic-agent")
