"""The step-through of backprop (draw_backward_steps): one frame per node the engine processes, in
the engine's order, with the engine's gradients; checked on the SVG text, never on pixels."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_viz import SVG, needs_dot, tiny_mlp

from autograd_lite import MLP, Tensor, Value, cross_entropy, draw_backward_steps
from autograd_lite.core.engine import Node, toposort

HIGHLIGHT = "#e6550d"


def readme_example() -> tuple[Value, Value, Value, Value, Value]:
    """The README's ten lines: y = x * sigmoid(w*x + b) at x = 0.5, w = -1, b = 2."""
    x = Value(0.5, label="x")
    w = Value(-1.0, label="w")
    b = Value(2.0, label="b")
    h = w * x + b
    h.label = "h"
    y = x * h.sigmoid()
    y.label = "y"
    return x, w, b, h, y


class _Recorder:
    """Stands in for a node's rule: logs the node each time the engine runs its VJP."""

    def __init__(self, rule: Any, node: Node, log: list[Node]) -> None:
        self._rule, self._node, self._log = rule, node, log

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rule, name)

    def vjp(self, *args: Any, **kwargs: Any) -> Any:
        self._log.append(self._node)
        return self._rule.vjp(*args, **kwargs)


def engine_order(root: Node) -> list[Node]:
    """Run backward() on ``root`` and return the nodes in the order the engine processed them."""
    log: list[Node] = []
    nodes = [n for n in toposort(root) if n._parents]
    for n in nodes:
        n._rule = _Recorder(n._rule, n, log)
    try:
        root.backward()
    finally:
        for n in nodes:
            n._rule = n._rule._rule
    return log


def test_one_step_per_processed_node_in_the_engines_order() -> None:
    *_, y = readme_example()
    steps = draw_backward_steps(y)
    order = engine_order(y)  # backward still works: the step-through consumed nothing
    assert [s.node for s in steps.steps] == order
    assert [s.node.op for s in steps.steps] == ["mul", "sigmoid", "add", "mul"]
    assert len(steps) == 4 and steps.steps[0].node is y  # the output first, then down by creation


def test_the_steps_gradients_are_backwards_on_the_readme_example() -> None:
    x, w, _, h, y = readme_example()
    steps = draw_backward_steps(y)
    assert x.grad == 0.0 and h.grad == 0.0  # computed on the side: .grad untouched
    y.backward()
    for node in toposort(y):
        assert steps.grads[node] == node.grad, node.label or node.op  # bit for bit
    assert round(steps.grads[x], 6) == 0.743001 and round(steps.grads[h], 6) == 0.074573
    assert round(steps.grads[w], 6) == 0.037287
    for s in steps.steps:
        assert s.grad == s.node.grad
    # x is used twice: what the two muls send it adds up to its gradient
    sends_to_x = [c for s in steps.steps for p, c in zip(s.node._parents, s.sends) if p is x]
    assert len(sends_to_x) == 2 and sends_to_x[0] + sends_to_x[1] == x.grad


def test_the_steps_gradients_are_backwards_on_a_tensor_model() -> None:
    model = MLP([3, 4, 2], seed=0)
    loss = cross_entropy(model(Tensor(np.array([0.5, -1.0, 2.0]), label="x")), 1) + (model.fc1.W ** 2).sum()
    steps = draw_backward_steps(loss)
    order = engine_order(loss)
    assert [s.node for s in steps.steps] == order
    for node in toposort(loss):
        if node.requires_grad:
            assert np.array_equal(steps.grads[node], node.grad), node.op
    # the weight is used by the layer and by the penalty: two contributions, summed
    to_w = [s for s in steps.steps for p in s.node._parents if p is model.fc1.W]
    assert len(to_w) == 2


def test_a_non_scalar_output_takes_a_seed() -> None:
    t = Tensor([1.0, 2.0], requires_grad=True, label="t")
    s = (t * t).exp()
    with pytest.raises(RuntimeError, match="not a scalar"):
        draw_backward_steps(s)
    steps = draw_backward_steps(s, gradient=np.array([1.0, -1.0]))
    s.backward(gradient=np.array([1.0, -1.0]))
    assert np.array_equal(steps.grads[t], t.grad)


def test_what_cannot_be_stepped_through_is_refused() -> None:
    with pytest.raises(ValueError, match="no backward pass"):
        draw_backward_steps(Value(1.0))
    with pytest.raises(TypeError, match="expected a Value or Tensor"):
        draw_backward_steps(1.0)  # type: ignore[arg-type]
    x = Value(0.5)
    y = x
    for _ in range(30):
        y = y.sin()
    with pytest.raises(ValueError, match="30 steps, more than max_steps=20"):
        draw_backward_steps(y, max_steps=20)


# ---- the frames ---------------------------------------------------------------------------------

def _texts(group: ET.Element) -> list[str]:
    return [t.text or "" for t in group.iter(f"{SVG}text")]


def _group(svg: str, gid: str) -> ET.Element:
    g = ET.fromstring(svg).find(f".//{SVG}g[@id='{gid}']")
    assert g is not None, gid
    return g


def _box_id(steps: Any, label: str) -> str:
    plan = steps._frames.scene.plan
    node = next(n for n in plan.order if n.label == label)
    return f"v{plan.rank[node]}"


def _grad_text(svg: str, gid: str) -> tuple[str, str]:
    """The gradient text of a box in a frame and its colour."""
    texts = list(_group(svg, gid).iter(f"{SVG}text"))
    i = [t.text for t in texts].index("grad")
    return texts[i + 1].text or "", texts[i + 1].get("fill", "")


@needs_dot
def test_each_frame_shows_the_gradients_known_so_far() -> None:
    *_, y = readme_example()
    steps = draw_backward_steps(y)
    frames = steps.frames()
    assert len(frames) == 4
    ids = {name: _box_id(steps, name) for name in ("x", "w", "b", "h", "y")}
    # step 1 (y = x * s): y's gradient is the seed; x gets its first contribution, s(h) = 0.8176
    assert _grad_text(frames[0], ids["y"])[0] == "1"
    assert _grad_text(frames[0], ids["x"]) == ("0.8176 + …", "#a63603")  # partial, in orange
    assert _grad_text(frames[0], ids["w"]) == ("?", "#969696")
    # step 3 (h = add): b's gradient is known; w's not yet
    assert _grad_text(frames[2], ids["b"]) == ("0.07457", "#b2182b")
    assert _grad_text(frames[2], ids["w"])[0] == "?"
    # step 4 (w * x): the second contribution to x arrives: the sum is shown
    assert _grad_text(frames[3], ids["x"])[0] == "0.8176 − 0.07457 = 0.743"
    assert _grad_text(frames[3], ids["w"])[0] == "0.03729"
    for k, frame in enumerate(frames):
        captions = [t for t in _texts(ET.fromstring(frame)) if t.startswith(f"step {k + 1} of 4: ")]
        assert len(captions) == 1
    assert "(the seed)" in steps._frames.captions[0]


@needs_dot
def test_the_current_node_and_its_edges_are_highlighted_later_edges_hidden() -> None:
    *_, y = readme_example()
    steps = draw_backward_steps(y)
    frames = steps.frames()
    plan = steps._frames.scene.plan
    edges = steps._frames.scene.edges
    for k, (frame, step) in enumerate(zip(frames, steps.steps)):
        root = ET.fromstring(frame)
        current = f"v{plan.rank[step.node]}"
        for gid in (f"v{i}" for i in range(len(plan.drawn))):
            g = root.find(f".//{SVG}g[@id='{gid}']")
            if g is None:
                continue
            marked = any(el.get("stroke") == HIGHLIGHT for el in g.iter())
            assert marked == (gid == current), (k, gid)
        for e in edges:
            g = root.find(f".//{SVG}g[@id='{e.eid}']")
            assert g is not None and e.key is not None
            at = steps._frames.at[e.key[0]]
            label = g.find(f"{SVG}text")
            hidden = label is not None and label.get("visibility") == "hidden"
            assert hidden == (at > k), (k, e.eid)
            if at == k:
                assert g.find(f"{SVG}path").get("stroke") == HIGHLIGHT  # type: ignore[union-attr]


@needs_dot
def test_all_frames_share_one_layout() -> None:
    loss, _ = tiny_mlp()
    steps = draw_backward_steps(loss)
    frames = steps.frames()
    assert len(frames) == len(steps) == 8  # transposes are steps of the engine, cross-entropy is one
    shapes = [[el.get("points") or el.get("d") for el in ET.fromstring(f).iter()
               if el.tag in (f"{SVG}polygon", f"{SVG}path")] for f in frames]
    assert all(s == shapes[0] for s in shapes)
    sizes = {(ET.fromstring(f).get("width"), ET.fromstring(f).get("height")) for f in frames}
    assert len(sizes) == 1


@needs_dot
def test_notebook_player_animated_svg_and_one_file_per_step(tmp_path: Path) -> None:
    *_, y = readme_example()
    steps = draw_backward_steps(y)
    page = steps._repr_html_()
    assert page.count('class="agl-frame"') == 4
    assert 'data-agl="prev"' in page and 'data-agl="next"' in page and 'type="range"' in page
    assert "<script>" in page and 'style="display:none' in page  # controls appear where scripts run
    uris = re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', page)
    assert [base64.b64decode(u).decode("utf-8") for u in uris] == steps.frames()
    animated = steps.render(tmp_path / "steps.svg", seconds_per_step=1.5)
    root = ET.parse(animated).getroot()
    animations = list(root.iter(f"{SVG}animate"))
    assert len(animations) == 4 and {a.get("dur") for a in animations} == {"6s"}
    assert len(root.findall(f"{SVG}g/{SVG}svg")) == 4  # one nested picture per step
    paths = steps.save_frames(tmp_path / "frames")
    assert [p.name for p in paths] == ["step_1.svg", "step_2.svg", "step_3.svg", "step_4.svg"]
    assert paths[2].read_text(encoding="utf-8") == steps.frames()[2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames", "steps.svg"]  # no temp files


def test_without_dot_the_player_is_a_notice(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setenv("AUTOGRAD_LITE_NO_WASM", "1")
    *_, y = readme_example()
    steps = draw_backward_steps(y)
    assert len(steps) == 4 and steps.source.startswith("digraph")
    assert "apt-get install graphviz" in steps._repr_html_()
