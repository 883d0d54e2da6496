"""What a person does in JupyterLab, as Playwright steps on one page: menus, open a file, Run All, Validate.

Every wait is on a condition the page shows (cell count, kernel name, execution prompts, a dialog), never a sleep.
Selectors are JupyterLab 4's and nbgrader 0.9's own class names and command ids.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from playwright.sync_api import FrameLocator, Page

OPEN_TIMEOUT_MS = 60_000
RUN_TIMEOUT_MS = 180_000
VALIDATE_TIMEOUT_MS = 180_000

NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook in the active tab
DIALOG = ".jp-Dialog"

# Text is read with textContent: innerText is empty for cells JupyterLab skips rendering off screen.
# Tracebacks and ordinary stderr share one output type (application/vnd.jupyter.stderr): tell them apart by text.
ERROR_TEXT = re.compile(r"Traceback \(most recent call last\)|^\s*[A-Za-z_.]*(Error|Exception)\b", re.MULTILINE)

# Prompts of the code cells of the active notebook: "[3]:" ran, "[*]:" running or queued, "[ ]:" not run.
_PROMPTS_JS = f"""() => Array.from(document.querySelectorAll(
    '{NOTEBOOK} .jp-CodeCell .jp-InputArea-prompt')).map(p => p.textContent.trim())"""

_STDERR_OUTPUTS_JS = f"""() => Array.from(document.querySelectorAll('{NOTEBOOK} .jp-Cell')).flatMap((cell, index) =>
    Array.from(cell.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
        .map(output => [index, output.textContent]))"""


@dataclass(frozen=True)
class CellError:
    cell_index: int  # position in the notebook, from 0
    text: str

    @property
    def last_line(self) -> str:
        """The exception line a person reads first, e.g. 'NotImplementedError: ...'."""
        lines = [line for line in self.text.strip().splitlines() if ERROR_TEXT.search(line)
                 and "Traceback" not in line]
        return lines[-1].strip() if lines else self.text.strip().splitlines()[-1]


def open_lab(page: Page, url: str) -> None:
    """Load JupyterLab and wait until its menu bar and file browser are there."""
    page.goto(url)
    page.locator(".lm-MenuBar-item", has_text="Nbgrader").wait_for(timeout=OPEN_TIMEOUT_MS)
    page.locator(".jp-DirListing").first.wait_for(timeout=OPEN_TIMEOUT_MS)


def menu(page: Page, title: str, command: str, submenu: str | None = None) -> None:
    """Click a menu of the menu bar (and hover one of its submenus), then the item running `command`."""
    page.locator(".lm-MenuBar-item", has_text=re.compile(rf"^{re.escape(title)}$")).click()
    if submenu:
        page.locator(".lm-Menu-item[data-type='submenu']", has_text=re.compile(rf"^{re.escape(submenu)}")).hover()
    page.locator(f".lm-Menu-item[data-command='{command}']").first.click()


def open_notebook(page: Page, path: str, code_cells: int, cells: int) -> None:
    """File > Open from Path..., then wait for the real notebook: all its cells and a kernel name.

    Before the file and the kernel load, the panel shows one placeholder cell and an execution indicator already
    reading "idle", so neither tells that the notebook is ready.
    """
    menu(page, "File", "filebrowser:open-path")
    field = page.locator(f"{DIALOG} input")
    field.fill(path)
    field.press("Enter")
    page.wait_for_function(f"""() => document.querySelectorAll('{NOTEBOOK} .jp-Cell').length === {cells}
        && document.querySelectorAll('{NOTEBOOK} .jp-CodeCell').length === {code_cells}""", timeout=OPEN_TIMEOUT_MS)
    page.locator(f"{NOTEBOOK} .jp-Toolbar .jp-KernelName", has_text=re.compile(r"Python")).wait_for(
        timeout=OPEN_TIMEOUT_MS)
    page.locator(f"{NOTEBOOK} .jp-Toolbar .validate-button").wait_for(timeout=OPEN_TIMEOUT_MS)


def prompts(page: Page) -> list[str]:
    return page.evaluate(_PROMPTS_JS)


def run_all(page: Page) -> list[str]:
    """Run > Run All Cells, and wait until it is done; returns the prompts."""
    start_run_all(page)
    return wait_for_run_all(page)


def start_run_all(page: Page) -> None:
    """Run > Run All Cells (JupyterLab has no default shortcut for it)."""
    menu(page, "Run", "runmenu:run-all")


def wait_for_run_all(page: Page) -> list[str]:
    """Wait until no cell of the active notebook is queued or running; returns the prompts.

    The notebook must have no execution counts before (a fresh file): "done" is "something ran, nothing runs".
    After an error the kernel skips the cells queued behind it, which then show an empty prompt.
    """
    page.wait_for_function(f"""() => {{
        const prompts = ({_PROMPTS_JS})();
        return prompts.some(p => /\\[\\d+\\]/.test(p)) && !prompts.some(p => p.includes('*'));
    }}""", timeout=RUN_TIMEOUT_MS)
    return prompts(page)


def error_outputs(page: Page) -> list[CellError]:
    """Error outputs (tracebacks) of the active notebook; ordinary stderr such as warnings is not an error."""
    return [CellError(index, text) for index, text in page.evaluate(_STDERR_OUTPUTS_JS) if ERROR_TEXT.search(text)]


@dataclass(frozen=True)
class Validation:
    outcome: str  # nbgrader's class on the dialog body: success, failed, changed, type-changed; "error" otherwise
    text: str
    failed_cells: list[tuple[str, str]]  # (source, error) of each cell nbgrader lists as failed


def validate(page: Page, screenshot: str | None = None) -> Validation:
    """Press nbgrader's Validate (it saves, then re-runs the notebook in a fresh kernel) and read its dialog."""
    page.locator(f"{NOTEBOOK} .jp-Toolbar .validate-button").click()
    body = page.locator(f"{DIALOG} .jp-Dialog-body")
    body.wait_for(timeout=VALIDATE_TIMEOUT_MS)
    classes = (body.get_attribute("class") or "").split()
    outcome = next((c.removeprefix("validation-") for c in classes if c.startswith("validation-")), "error")
    # a failed cell shows as a paragraph, then its source and its error, each in a div.jp-RenderedText
    blocks = body.locator("div.jp-RenderedText pre").all_inner_texts() if outcome == "failed" else []
    validation = Validation(outcome, body.inner_text(), list(zip(blocks[0::2], blocks[1::2])))
    if screenshot:
        page.screenshot(path=screenshot)
    page.locator(f"{DIALOG} button.jp-mod-accept").click()
    body.wait_for(state="detached")
    return validation


def close_notebook(page: Page) -> None:
    """Kernel > Shut Down Kernel, then File > Close Tab: no kernel is left running behind a closed tab."""
    menu(page, "Kernel", "kernelmenu:shutdown")
    page.locator(f"{NOTEBOOK} .jp-Toolbar .jp-KernelName", has_text="No Kernel").wait_for()
    menu(page, "File", "application:close")
    # a notebook with unsaved changes asks first; a saved one just closes
    page.wait_for_function(f"""() => !document.querySelector('{NOTEBOOK}') || document.querySelector('{DIALOG}')""")
    if page.locator(DIALOG).count():
        page.locator(f"{DIALOG} button", has_text=re.compile("Discard|Don.t Save")).first.click()
    page.locator(NOTEBOOK).wait_for(state="detached")


def open_formgrader(page: Page) -> FrameLocator:
    """Nbgrader > Formgrader: the formgrader opens in a JupyterLab tab, inside an iframe."""
    menu(page, "Nbgrader", "nbgrader:open-formgrader")
    frame = page.frame_locator(".jp-MainAreaWidget:not(.lm-mod-hidden) iframe")
    frame.locator("body").wait_for(timeout=OPEN_TIMEOUT_MS)
    return frame


def close_tab(page: Page) -> None:
    """File > Close Tab, for a tab that holds no document (such as the formgrader)."""
    # after it closes another tab (the launcher, say) becomes the visible one: wait for this one by its id
    widget_id = page.locator(".jp-MainAreaWidget:not(.lm-mod-hidden)").first.get_attribute("id")
    menu(page, "File", "application:close")
    page.locator(f"[id='{widget_id}']").wait_for(state="detached")


TERMINAL = ".jp-Terminal:not(.lm-mod-hidden)"
# The terminal's rows as text: xterm draws on a canvas, and its screen-reader mode mirrors each row into the page.
_TERMINAL_ROWS_JS = f"""() => Array.from(document.querySelectorAll('{TERMINAL} .xterm-accessibility-tree > div'))
    .map(row => row.textContent.replace(/\\s+$/, '')).join('\\n').trim()"""


@dataclass(frozen=True)
class TerminalRun:
    status: int
    screen: str  # the terminal's rows after the command finished


def open_terminal(page: Page) -> None:
    """File > New > Terminal, and wait for the shell's prompt."""
    menu(page, "File", "terminal:create-new", submenu="New")
    wait_for_prompt(page)


def wait_for_prompt(page: Page) -> None:
    """Wait until the terminal's last line is a shell prompt (ends with $, # or >)."""
    page.wait_for_function(f"() => /[$#>]$/.test(({_TERMINAL_ROWS_JS})())", timeout=OPEN_TIMEOUT_MS)


def run_in_terminal(page: Page, command: str, timeout_ms: int = RUN_TIMEOUT_MS) -> TerminalRun:
    """Type command into the active terminal, press Enter, and wait until it finishes.

    An `echo` after the command prints a marker with the exit status: the line that says it finished.
    """
    marker = f"finished-{secrets.token_hex(3)}"
    page.locator(f"{TERMINAL} .xterm-screen").click()
    page.keyboard.type(f'{command}; echo "{marker}: $?"')
    page.keyboard.press("Enter")
    # the echoed command line shows the marker followed by `$?`; only the finished command prints digits there
    page.wait_for_function(f"() => /{marker}: \\d+/.test(({_TERMINAL_ROWS_JS})())", timeout=timeout_ms)
    wait_for_prompt(page)  # the shell is ready for the next command
    screen = page.evaluate(_TERMINAL_ROWS_JS)
    return TerminalRun(int(re.search(rf"{marker}: (\d+)", screen).group(1)), screen)


def close_terminal(page: Page) -> None:
    """`exit` in the shell: JupyterLab closes the terminal's tab when its shell ends."""
    page.locator(f"{TERMINAL} .xterm-screen").click()
    page.keyboard.type("exit")
    page.keyboard.press("Enter")
    page.locator(TERMINAL).wait_for(state="detached")


def open_assignment_list(page: Page) -> None:
    """Nbgrader > Assignment List: the student's released, downloaded and submitted assignments."""
    menu(page, "Nbgrader", "nbgrader:open-assignment-list")
    page.locator("#released_assignments_list").wait_for(timeout=OPEN_TIMEOUT_MS)


def assignment_list_row(page: Page, section: str, assignment: str):
    """The row of assignment in a section of the assignment list: released, fetched or submitted."""
    return page.locator(f"#{section}_assignments_list .list_item:not(.nested_list_item)", has_text=assignment)


def assignment_list_action(page: Page, section: str, assignment: str, button: str) -> None:
    """Click a row's button (Fetch, Submit) and wait until the row has moved on to the next section."""
    row = assignment_list_row(page, section, assignment)
    row.locator("button", has_text=button).click(timeout=OPEN_TIMEOUT_MS)
    following = {"released": "fetched", "fetched": "submitted"}[section]
    assignment_list_row(page, following, assignment).wait_for(timeout=OPEN_TIMEOUT_MS)
