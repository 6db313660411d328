"""The demo's assistant steps: an admin generates and approves a config; the device reads it offline."""

from __future__ import annotations

import uuid

from rich.console import Console
from rich.table import Table

from content_service.client import ApiClient
from content_service.device.agent import DeviceAgent
from content_service.device.assistant import fetch_assistant, read_assistant


def generate_and_approve(console: Console, admin: ApiClient, package: dict) -> dict:
    """Generate a draft from the package's text, show it with its provenance, approve it."""
    queued = admin.create_assistant_config(package["package_id"], uuid.uuid4().hex, package["version"])
    console.print(
        f"[green]✓[/] [cyan]admin[/]: POST /v1/packages/{package['package_id']}/assistant-configs → 202, "
        f"generation {queued['generation_id']} {queued['state']}"
    )
    job = admin.wait_for_assistant_generation(queued["generation_id"])
    if job["state"] != "ready":
        problem = job.get("problem") or {}
        raise RuntimeError(f"the assistant generation failed: {problem.get('code')}: {problem.get('detail')}")
    draft = admin.get_assistant_config(package["package_id"], job["config_id"])
    console.print(
        f"[green]✓[/] assistant function: generation {job['state']} → "
        f"{draft['config_id']} ({draft['state']}, from the package's own text)"
    )
    config, provenance = draft["config"], draft["provenance"]
    table = Table(title=f"Assistant config {draft['config_id']}", show_header=False)
    table.add_row("summary", config["summary"])
    table.add_row("key terms", ", ".join(term["term"] for term in config["key_terms"]))
    table.add_row("questions", "\n".join(q["question"] for q in config["questions"]))
    table.add_row("topics", ", ".join(config["topic_scope"]["topics"]))
    table.add_row("reading level", str(config["reading_level"]))
    table.add_row("generator / model", f"{provenance['generator']} / {provenance['model_id']}")
    table.add_row(
        "prompt template", f"{provenance['prompt_template_id']} sha256 {provenance['prompt_template_sha256']}"
    )
    table.add_row(
        "input",
        f"content {provenance['input']['content_hash']}, files "
        + ", ".join(f["path"] for f in provenance["input"]["files"]),
    )
    table.add_row("output sha256", provenance["output_sha256"])
    table.add_row("requested", f"{provenance['requested_by']} at {provenance['requested_at']}")
    table.add_row("generation", str(provenance.get("generation_id")))
    console.print(table)
    approved = admin.approve_assistant_config(package["package_id"], draft["config_id"])
    console.print(
        f"[green]✓[/] [cyan]admin[/]: approved {approved['config_id']} ({approved['state']}): now it ships to devices"
    )
    return approved


def read_on_device(console: Console, agent: DeviceAgent, bundle_id: str, package_id: str) -> None:
    """The device fetches the signed overlay beside the bundle and reads the config back, verified."""
    fetch_assistant(agent, bundle_id)
    found = read_assistant(agent, bundle_id, package_id)
    console.print(
        f"[green]✓[/] assistant overlay verified on the device ({found['claims']['config_id']}, "
        f"bound to content {found['claims']['content_hash'][:12]}…): {len(found['config']['questions'])} questions"
    )
