"""Exercises a learner runs: `check("01.2", answer)` answers back, `hint("01.2")` nudges, `solution("01.2")` shows code.

`check` prints exactly one line: "<id> correct: <why it matters>", "<id> not yet: <what is wrong>" or
"<id> not attempted yet: ..." (while every answer is still the blank `...`, or None where None is a blank).

A chapter registers its exercises in `helpers/exercises/chNN.py`, loaded the first time one of its ids is
used. Each is a check function decorated with `exercise(...)`: its positional parameters are the answers,
named as in the scaffold cell; it raises `NotYet("reason")` for a wrong answer and returns for a right one:

    @exercise("01.2", why="...", hint="...", scaffold="coffee_pixel = ...  # ...",
              solution="coffee_pixel = coffee[100, 250]")
    def _(coffee_pixel):
        if ...:
            raise NotYet("x and y are swapped: ...")

`solution` is the code that replaces the scaffold cell; the test run executes it after its chapter
(tools.exercise_proof) and fails unless the check then prints "correct". A check that needs the chapter's
own objects besides the answers names them in `context` ({keyword: expression}): the check cell passes
them as keywords, `check("03.2", onehot, labels=y_train)`, and the check function takes them keyword-only.
"""

from __future__ import annotations

import dis
import importlib
import importlib.util
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import FunctionType
from typing import Any

import numpy as np

__all__ = ["Exercise", "NotYet", "REGISTRY", "Registry", "as_array", "as_choice", "as_number", "check", "exercise",
           "hint", "is_blank", "same_arrays", "solution"]

ID_PATTERN = re.compile(r"(?P<chapter>\d\d)\.(?P<number>[1-9]\d*)")


class NotYet(Exception):
    """A wrong answer; the message is what the learner reads after "not yet:"."""


@dataclass(frozen=True)
class Exercise:
    """One exercise: its id ("05.3"), check function, the sentences it prints, and the cells' code."""

    id: str
    checker: Callable[..., None]
    why: str
    hint: str
    scaffold: str
    solution: str
    none_is_blank: bool = True
    context: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not ID_PATTERN.fullmatch(self.id):
            raise ValueError(f"exercise id must look like '05.3' (chapter.number), got {self.id!r}")
        if not self.answers:
            raise ValueError(f"exercise {self.id}: the check function needs at least one answer parameter")
        for name in ("why", "hint", "scaffold", "solution"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ValueError(f"exercise {self.id}: {name} must be a non-empty string")
        keywords = inspect.signature(self.checker).parameters
        for name, expression in self.context:
            if not name.isidentifier() or keywords.get(name, None) is None \
                    or keywords[name].kind != inspect.Parameter.KEYWORD_ONLY:
                raise ValueError(f"exercise {self.id}: context {name!r} must be a keyword-only parameter of the check")
            try:
                compile(expression, f"<context {self.id}>", "eval")
            except SyntaxError as error:
                raise ValueError(f"exercise {self.id}: context {name}={expression!r} is not a Python expression") from error
        try:
            compile(self.solution, f"<solution {self.id}>", "exec")
            compile(self.scaffold, f"<scaffold {self.id}>", "exec")
        except SyntaxError as error:
            raise ValueError(f"exercise {self.id}: {error.filename} is not valid Python: {error.msg}") from error

    @property
    def chapter(self) -> str:
        """The two-digit chapter number."""
        return self.id[:2]

    @property
    def number(self) -> int:
        """The exercise's number within its chapter."""
        return int(self.id[3:])

    @property
    def answers(self) -> tuple[str, ...]:
        """The names of the answers, in order: the check function's positional parameters."""
        kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        return tuple(name for name, parameter in inspect.signature(self.checker).parameters.items()
                     if parameter.kind in kinds)

    @property
    def check_call(self) -> str:
        """The check cell's code: check("05.3", answer, ..., keyword=expression, ...)."""
        passed = [*self.answers, *(f"{name}={expression}" for name, expression in self.context)]
        return f'check("{self.id}", {", ".join(passed)})'


def _is_empty_function(value: object) -> bool:
    """True for a function whose body is only a docstring, `...` or `pass` (it returns None and does nothing)."""
    if not isinstance(value, FunctionType):
        return False
    skipped = {"RESUME", "NOP", "CACHE", "COPY_FREE_VARS", "MAKE_CELL"}
    steps = [(step.opname, step.argval) for step in dis.get_instructions(value) if step.opname not in skipped]
    return steps in ([("RETURN_CONST", None)], [("LOAD_CONST", None), ("RETURN_VALUE", None)])


def is_blank(value: object, none_is_blank: bool = True) -> bool:
    """True for a scaffold's blank: `...`, None (if none_is_blank), a list or tuple holding `...`, an empty function."""
    if value is Ellipsis or (value is None and none_is_blank):
        return True
    if isinstance(value, (list, tuple)):
        return any(item is Ellipsis for item in value)
    return _is_empty_function(value)


class Registry:
    """Exercises by id; with `autoload`, a chapter's module helpers.exercises.chNN is imported on first use."""

    def __init__(self, autoload: bool = False) -> None:
        self.autoload = autoload
        self._exercises: dict[str, Exercise] = {}

    def add(self, item: Exercise) -> Exercise:
        """Register `item`; an id registered twice is an error."""
        if not isinstance(item, Exercise):
            raise TypeError(f"can only register an Exercise, got {type(item).__name__}")
        if item.id in self._exercises:
            raise ValueError(f"exercise {item.id} is registered twice")
        self._exercises[item.id] = item
        return item

    def _load(self, chapter: str) -> None:
        """Import the chapter's module of exercises, if there is one."""
        name = f"{__name__}.ch{chapter}"
        if self.autoload and importlib.util.find_spec(name) is not None:
            importlib.import_module(name)

    def get(self, exercise_id: str) -> Exercise:
        """The exercise with this id; a clear error for a malformed or unknown id."""
        if not isinstance(exercise_id, str) or not ID_PATTERN.fullmatch(exercise_id):
            raise ValueError(f"an exercise id looks like '05.3' (a string: chapter.number), got {exercise_id!r}")
        if exercise_id not in self._exercises:
            self._load(exercise_id[:2])
        if exercise_id not in self._exercises:
            known = [item.id for item in self.of_chapter(exercise_id[:2])]
            listed = ", ".join(known) if known else "none"
            raise ValueError(f"there is no exercise {exercise_id}; chapter {exercise_id[:2]} has: {listed}")
        return self._exercises[exercise_id]

    def knows(self, exercise_id: str) -> bool:
        """True if `exercise_id` is a registered exercise (loading its chapter's module first)."""
        try:
            self.get(exercise_id)
        except ValueError:
            return False
        return True

    def of_chapter(self, chapter: str) -> list[Exercise]:
        """The chapter's exercises ("05" -> 05.1, 05.2, ...), in order."""
        if not isinstance(chapter, str) or not re.fullmatch(r"\d\d", chapter):
            raise ValueError(f"a chapter is two digits such as '05', got {chapter!r}")
        self._load(chapter)
        return sorted((item for item in self._exercises.values() if item.chapter == chapter),
                      key=lambda item: item.number)

    def chapters(self) -> list[str]:
        """Chapters that have exercises: registered ones, and (with autoload) every chNN module present."""
        if self.autoload:
            import pkgutil

            for module in pkgutil.iter_modules(__path__):
                if re.fullmatch(r"ch\d\d", module.name):
                    self._load(module.name[2:])
        return sorted({item.chapter for item in self._exercises.values()})

    def verdict(self, exercise_id: str, *answers: Any, **context: Any) -> str:
        """The line `check` prints for these answers."""
        item = self.get(exercise_id)
        if len(answers) != len(item.answers):
            raise TypeError(f"check({exercise_id!r}, ...) takes {len(item.answers)} answer(s) after the id: "
                            f"{item.check_call}; got {len(answers)}")
        blanks = [name for name, value in zip(item.answers, answers) if is_blank(value, item.none_is_blank)]
        if len(blanks) == len(answers):
            return (f"{item.id} not attempted yet: fill in the blanks (...) in the cell above and run it, then run "
                    f'this check again; hint("{item.id}") gives a nudge.')
        if blanks:
            named = " and ".join(f"`{name}`" for name in blanks)
            return f"{item.id} not yet: {named} still {'holds' if len(blanks) == 1 else 'hold'} a blank (...)"
        try:
            item.checker(*answers, **context)
        except NotYet as reason:
            return f"{item.id} not yet: {reason}"
        except Exception as error:  # an answer of a kind the check did not foresee: say what happened
            return f"{item.id} not yet: checking your answer failed with {type(error).__name__}: {error}"
        return f"{item.id} correct: {item.why}"

    def check(self, exercise_id: str, *answers: Any, **context: Any) -> None:
        """Print whether the answers are correct, not yet (and why), or not attempted yet."""
        print(self.verdict(exercise_id, *answers, **context))

    def hint(self, exercise_id: str) -> None:
        """Print a nudge towards the answer."""
        print(f"{exercise_id} hint: {self.get(exercise_id).hint}")

    def solution(self, exercise_id: str) -> None:
        """Print the reference code, to replace the exercise's scaffold cell with."""
        item = self.get(exercise_id)
        print(f"# {item.id} reference solution, in place of the cell before {item.check_call}\n{item.solution}")


REGISTRY = Registry(autoload=True)


def exercise(exercise_id: str, *, why: str, hint: str, scaffold: str, solution: str, none_is_blank: bool = True,
             context: dict[str, str] | None = None,
             registry: Registry = REGISTRY) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register the decorated check function as exercise `exercise_id` (see the module's docstring)."""

    def register(checker: Callable[..., None]) -> Callable[..., None]:
        registry.add(Exercise(exercise_id, checker, why=why, hint=hint, scaffold=scaffold, solution=solution,
                              none_is_blank=none_is_blank, context=tuple((context or {}).items())))
        return checker

    return register


def check(exercise_id: str, *answers: Any, **context: Any) -> None:
    """Check your answers to exercise `exercise_id` ("05.3"): prints correct, not yet (why), or not attempted yet."""
    REGISTRY.check(exercise_id, *answers, **context)


def hint(exercise_id: str) -> None:
    """Print a nudge towards exercise `exercise_id`'s answer."""
    REGISTRY.hint(exercise_id)


def solution(exercise_id: str) -> None:
    """Print the reference code for exercise `exercise_id`: it replaces the exercise's scaffold cell."""
    REGISTRY.solution(exercise_id)


# --- small tools for writing checks ----------------------------------------------------------


def as_array(value: object, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """`value` as a numeric NumPy array (lists are fine), else NotYet; with `shape`, it must have that shape."""
    if isinstance(value, (str, bytes, dict)) or callable(value):
        raise NotYet(f"`{name}` should be an array of numbers, got {type(value).__name__}")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:  # ragged nested lists
        raise NotYet(f"`{name}` cannot be read as an array of numbers: {error}") from error
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise NotYet(f"`{name}` should hold numbers, got {type(value).__name__} of {array.dtype}")
    if shape is not None and array.shape != shape:
        raise NotYet(f"`{name}` should have shape {shape}, got {array.shape}")
    return array


def as_number(value: object, name: str) -> float:
    """`value` as one real number (an int, float, NumPy scalar, or an array or tensor of one value), else NotYet."""
    if not isinstance(value, (bool, str, bytes, list, tuple, dict, int, float, np.generic)) \
            and hasattr(value, "__array__"):                       # an array or tensor: one real value is fine
        try:
            array = np.asarray(value)
        except Exception:  # a symbolic tensor, say: fall through to the message below
            array = None
        if array is not None and array.size == 1 and array.dtype != bool and \
                (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
            return float(array.item())
        if array is not None:                                    # its shape, not a repr of many lines
            raise NotYet(f"`{name}` should be a number, got {type(value).__name__} of shape {array.shape} and dtype "
                         f"{array.dtype}" + (": take one value of it" if array.size > 1 else ""))
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        hint_text = " (a Keras shape? take one entry of it)" if isinstance(value, (tuple, list)) else ""
        raise NotYet(f"`{name}` should be a number, got {type(value).__name__} {value!r}{hint_text}")
    return float(value)


def as_choice(value: object, name: str, choices: tuple[str, ...]) -> str:
    """`value` as one of `choices` (case and surrounding spaces ignored), else NotYet listing them."""
    allowed = " or ".join(f'"{choice}"' for choice in choices)
    if not isinstance(value, str) or value.strip().lower() not in choices:
        raise NotYet(f"`{name}` should be {allowed}, got {value!r}")
    return value.strip().lower()


def same_arrays(first: list, second: list) -> bool:
    """True when two lists of arrays (weights, optimizer variables) hold equal arrays, one for one."""
    return len(first) == len(second) and all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(first, second))
