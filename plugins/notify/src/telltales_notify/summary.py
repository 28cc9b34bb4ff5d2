"""The words a CSM or a manager reads: the subject, the email body, the chat paragraph.

A notification is worth sending only if it can be acted on in half a minute: which
account, what it entered and when, which rules hold with the exact metric, value and
evidence, and where to click. Everything here is built from the request alone.
"""

from __future__ import annotations

from telltales import Account, ActionRequest, RuleFiring, RuleMatch


def one_line(text: str) -> str:
    """``text`` with every run of whitespace, newlines included, made one space."""
    return " ".join(text.split())


def status_label(request: ActionRequest) -> str:
    return request.status_label or request.status


def rules(request: ActionRequest) -> str:
    """The rules that fired, by name, or the reason when the request carries no firings."""
    return ", ".join(firing.rule for firing in request.firings) or request.reason


def headline(request: ActionRequest) -> str:
    """``Ferrum Manufacturing (ferrum) entered At-Risk on 2026-11-20``."""
    account = request.account
    text = f"{account.name} ({account.account_id}) entered {status_label(request)}"
    if request.as_of is not None:
        text += f" on {request.as_of.isoformat()}"
    return text


def default_subject(request: ActionRequest) -> str:
    """``[telltales] Ferrum Manufacturing is At-Risk: core_feature_drop``."""
    return f"[telltales] {request.account.name} is {status_label(request)}: {rules(request)}"


def account_facts(account: Account) -> str:
    """Renewal, ARR, owner and group in one line; parts the account lacks are left out."""
    facts = []
    if account.renewal_date is not None:
        facts.append(f"renews {account.renewal_date.isoformat()}")
    if account.arr:
        facts.append(f"ARR {account.arr:,.0f}")
    if account.owner:
        facts.append(f"owner {account.owner}")
    if account.csm_group:
        facts.append(f"CSM group {account.csm_group}")
    return ", ".join(facts)


def value_text(value: float | str) -> str:
    """A number as a person writes it: ``0.45``, ``150000``, not ``0.30000000000000004``."""
    if isinstance(value, str):
        return value
    text = repr(round(value, 6))
    return text.removesuffix(".0")


def match_line(match: RuleMatch) -> str:
    """``telltales.seat_utilization_30d = 0.45 (below 0.5): 36 of 80 seats active ...``."""
    return (
        f"{match.subject} = {value_text(match.value)} ({match.comparison}): "
        f"{one_line(match.evidence)}"
    )


def firing_lines(firing: RuleFiring) -> list[str]:
    lines = [
        f"- {firing.rule} ({firing.severity}), holding since {firing.held_since.isoformat()}",
        f"  {one_line(firing.description)}",
    ]
    lines.extend(f"  * {match_line(match)}" for match in firing.matches)
    return lines


def email_body(request: ActionRequest) -> str:
    """The plain-text body: what happened, why (rule by rule), where to look, which playbook."""
    lines = [headline(request) + "."]
    if facts := account_facts(request.account):
        lines.append(facts[0].upper() + facts[1:] + ".")
    lines += ["", "Why:"]
    if request.firings:
        for firing in request.firings:
            lines.extend(firing_lines(firing))
    else:
        lines += [f"- {request.reason}", f"  {one_line(request.evidence)}"]
    if request.account_url:
        lines += ["", f"Open the account: {request.account_url}"]
    lines += [
        "",
        f"Sent by telltales for playbook {request.playbook}, "
        f"run {request.playbook_run_id}, step {request.step}.",
    ]
    return "\n".join(lines) + "\n"


def sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."


def chat_text(request: ActionRequest) -> str:
    """One paragraph for a chat channel: the headline, the facts, each rule's evidence, link."""
    facts = account_facts(request.account)
    sentences = [headline(request) + (f" ({facts})" if facts else "")]
    for firing in request.firings:
        evidence = "; ".join(one_line(match.evidence) for match in firing.matches)
        sentences.append(f"{firing.rule}: {evidence or one_line(firing.description)}")
    if not request.firings:
        sentences.append(f"{request.reason}: {one_line(request.evidence)}")
    text = " ".join(sentence(part) for part in sentences)
    return f"{text} {request.account_url}" if request.account_url else text
