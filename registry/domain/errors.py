"""Domain refusals: each has a stable code, an HTTP status and a message in Chinese and English."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One failed rule: its code, the subject it concerns and why."""

    code: str
    subject: str
    message_zh: str
    message_en: str

    def as_dict(self, lang: str = "zh") -> dict:
        return {
            "code": self.code,
            "subject": self.subject,
            "message": self.message_zh if lang == "zh" else self.message_en,
        }


@dataclass
class DomainError(Exception):
    """A refusal the API turns into problem+json; nothing was written."""

    code: str
    message_zh: str
    message_en: str
    status: int = 409
    problems: list[Problem] = field(default_factory=list)
    #: Field-level input errors: ``{field: [(zh, en), …]}``.
    errors: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code}: {self.message_en}"

    def message(self, lang: str = "zh") -> str:
        return self.message_zh if lang == "zh" else self.message_en


def not_allowed(code: str, zh: str, en: str) -> DomainError:
    return DomainError(code, zh, en, status=403)


def not_found(code: str, zh: str, en: str) -> DomainError:
    return DomainError(code, zh, en, status=404)


def conflict(code: str, zh: str, en: str, problems: list[Problem] | None = None) -> DomainError:
    return DomainError(code, zh, en, status=409, problems=problems or [])


def invalid(field_errors: dict[str, list[tuple[str, str]]], code: str = "invalid_input") -> DomainError:
    return DomainError(code, "输入有误", "Invalid input", status=422, errors=field_errors)
