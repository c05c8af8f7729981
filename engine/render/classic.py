"""Classic control drawn from observation vectors with Pillow (no pygame, no GL).

Every drawing takes a raw (un-normalised) observation, so it works for states met in
a rollout and for synthetic states alike. Synthetic states can hold values a real env
never shows: angles come from atan2(sin, cos) whatever the vector's length, and a
position off the drawn range is pinned to the edge and marked in red.

What is drawn (world coordinates as in gym's renderers):
- CartPole: track with the failure limits x = +-2.4 (red ticks) and the +-12 degree
  pole limits (faint wedge); cart at x, pole of length 1 at angle theta (positive
  leans right), cart and pole magnified `CARTPOLE_ZOOM` times against the track so
  small angles show; blue arrow = cart velocity, purple arrow = pole-tip velocity.
- Acrobot: two links of length 1 from (cos, sin) of both angles; dashed goal line at
  height 1; purple arrows = velocities of the joint and the tip.
- MountainCar (and the continuous one): hill y = 0.45 sin(3x) + 0.55, goal flag at
  0.5 (0.45), car at the position; blue arrow = velocity along the slope.
- Pendulum: rod of length 1 (angle 0 up, positive counter-clockwise); purple arrow =
  tip velocity.
The action (or label) is green: a push arrow for CartPole and MountainCar, a curved
torque arrow for Acrobot's middle joint and the pendulum.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

CART = (45, 45, 45)
POLE = (202, 152, 101)
AXLE = (129, 132, 203)
VEL = (31, 119, 180)
ANG = (148, 103, 189)
ACT = (44, 160, 44)
LIMIT = (214, 39, 40)
FAINT = (225, 225, 225)
HILL = (120, 170, 90)
BG = (255, 255, 255)

CARTPOLE_ZOOM = 2.0
"""Cart and pole are drawn this many times larger than the track (angles are true)."""

ENVS = (
    "CartPole-v1",
    "Acrobot-v1",
    "MountainCar-v0",
    "Pendulum-v1",
    "MountainCarContinuous-v0",
)


class Canvas:
    """World-to-pixel drawing, supersampled for smooth edges (y points up)."""

    def __init__(self, size, xlim, ylim, ss: int = 3, bg=BG):
        self.size = (int(size[0]), int(size[1]))
        self.ss = ss
        w, h = self.size[0] * ss, self.size[1] * ss
        self.img = Image.new("RGB", (w, h), bg)
        self.d = ImageDraw.Draw(self.img)
        self.s = min(w / (xlim[1] - xlim[0]), h / (ylim[1] - ylim[0]))
        cx, cy = (xlim[0] + xlim[1]) / 2, (ylim[0] + ylim[1]) / 2
        self.ox, self.oy = w / 2 - cx * self.s, h / 2 + cy * self.s

    def p(self, x, y):
        return (self.ox + float(x) * self.s, self.oy - float(y) * self.s)

    def px(self, n: float) -> int:
        """`n` output pixels in supersampled pixels."""
        return max(1, round(n * self.ss))

    def line(self, pts, fill, width: float = 2.0):
        pts = [self.p(*q) for q in pts]
        self.d.line(pts, fill=fill, width=self.px(width), joint="curve")
        r = self.px(width) / 2
        for q in (pts[0], pts[-1]):
            self.d.ellipse([q[0] - r, q[1] - r, q[0] + r, q[1] + r], fill=fill)

    def dashed(self, a, b, fill, width: float = 1.0, dash: float = 0.08):
        n = max(1, int(math.dist(a, b) / dash))
        for i in range(0, n, 2):
            t0, t1 = i / n, min(1.0, (i + 1) / n)
            self.line(
                [
                    (a[0] + (b[0] - a[0]) * t0, a[1] + (b[1] - a[1]) * t0),
                    (a[0] + (b[0] - a[0]) * t1, a[1] + (b[1] - a[1]) * t1),
                ],
                fill,
                width,
            )

    def polygon(self, pts, fill, outline=None):
        self.d.polygon([self.p(*q) for q in pts], fill=fill, outline=outline)

    def circle(self, c, r_world: float, fill, outline=None):
        x, y = self.p(*c)
        r = r_world * self.s
        self.d.ellipse(
            [x - r, y - r, x + r, y + r], fill=fill, outline=outline, width=self.px(1)
        )

    def arrow(self, start, vec, fill, width: float = 2.5, head: float = 7.0):
        """Arrow from `start` along world vector `vec` (skipped when tiny)."""
        x0, y0 = self.p(*start)
        x1, y1 = self.p(start[0] + vec[0], start[1] + vec[1])
        length = math.hypot(x1 - x0, y1 - y0)
        if length < self.px(2):
            return
        ux, uy = (x1 - x0) / length, (y1 - y0) / length
        hl = min(self.px(head), length * 0.6)
        bx, by = x1 - ux * hl, y1 - uy * hl
        self.d.line([(x0, y0), (bx, by)], fill=fill, width=self.px(width))
        hw = hl * 0.55
        self.d.polygon(
            [(x1, y1), (bx - uy * hw, by + ux * hw), (bx + uy * hw, by - ux * hw)],
            fill=fill,
        )

    def arc_arrow(
        self,
        center,
        radius: float,
        start: float,
        sweep: float,
        fill,
        width: float = 2.5,
    ):
        """Curved arrow around `center` from angle `start` (rad, CCW) by `sweep`."""
        if abs(sweep) < 1e-3:
            return
        n = max(4, int(abs(sweep) / 0.08))
        pts = [
            (
                center[0] + radius * math.cos(start + sweep * i / n),
                center[1] + radius * math.sin(start + sweep * i / n),
            )
            for i in range(n + 1)
        ]
        self.line(pts[:-1], fill, width)
        end = pts[-1]
        a = start + sweep
        tangent = (
            -math.sin(a) * math.copysign(1, sweep),
            math.cos(a) * math.copysign(1, sweep),
        )
        back = 0.25 * radius
        self.arrow(
            (end[0] - tangent[0] * back, end[1] - tangent[1] * back),
            (tangent[0] * back, tangent[1] * back),
            fill,
            width,
        )

    def image(self) -> np.ndarray:
        return np.asarray(self.img.resize(self.size, Image.LANCZOS))


def _clipvec(v, max_len: float):
    n = math.hypot(*v)
    return v if n <= max_len or n == 0 else (v[0] * max_len / n, v[1] * max_len / n)


def _sign_action(action, negative=0, positive=None) -> float:
    """Discrete action -> -1/0/+1 (index `negative` is -1, `positive` is +1)."""
    a = int(action)
    if a == negative:
        return -1.0
    return 1.0 if positive is None or a == positive else 0.0


def cartpole(obs, size=(240, 240), action=None) -> np.ndarray:
    x, x_dot, theta, theta_dot = (float(v) for v in obs[:4])
    k = CARTPOLE_ZOOM
    c = Canvas(size, (-3.0, 3.0), (-0.35 * k - 0.1, 1.25 * k))
    c.line([(-3.0, 0), (3.0, 0)], CART, 1.5)
    for lim in (-2.4, 2.4):
        c.line([(lim, -0.12), (lim, 0.12)], LIMIT, 2)
    xd = max(-2.75, min(2.75, x))
    if xd != x:  # off the track: pinned to the edge, marked
        c.arrow((xd, -0.3 * k), (math.copysign(0.25, x), 0), LIMIT, 3)

    def body(u, v):  # cart-centred physical offsets, drawn k times larger
        return (xd + k * u, k * v)

    pivot = body(0, 0.1)
    lim = 0.2094
    for a in (-lim, lim):
        c.dashed(pivot, body(1.05 * math.sin(a), 0.1 + 1.05 * math.cos(a)), FAINT, 1.2)
    c.polygon(
        [body(-0.25, -0.05), body(0.25, -0.05), body(0.25, 0.2), body(-0.25, 0.2)], CART
    )
    tip = body(math.sin(theta), 0.1 + math.cos(theta))
    c.line([pivot, tip], POLE, 7)
    c.circle(pivot, 0.035 * k, AXLE)
    c.arrow(body(0, -0.15), _clipvec((0.4 * x_dot, 0.0), 2.0), VEL)
    tv = (theta_dot * math.cos(theta), -theta_dot * math.sin(theta))
    c.arrow(tip, _clipvec((0.3 * k * tv[0], 0.3 * k * tv[1]), 1.0 * k), ANG)
    if action is not None:
        s = _sign_action(action, 0, 1)
        c.arrow(body(-0.62 * s, 0.075), (0.3 * k * s, 0.0), ACT, 4, 9)
    return c.image()


def acrobot(obs, size=(240, 240), action=None) -> np.ndarray:
    c1, s1, c2, s2, d1, d2 = (float(v) for v in obs[:6])
    t1, t2 = math.atan2(s1, c1), math.atan2(s2, c2)
    c = Canvas(size, (-2.3, 2.3), (-2.3, 2.3))
    c.dashed((-2.2, 1.0), (2.2, 1.0), LIMIT, 1.2)
    p1 = (math.sin(t1), -math.cos(t1))
    p2 = (p1[0] + math.sin(t1 + t2), p1[1] - math.cos(t1 + t2))
    c.line([(0, 0), p1], (0, 104, 204), 7)
    c.line([p1, p2], (0, 104, 204), 7)
    for q in ((0, 0), p1):
        c.circle(q, 0.08, (204, 204, 0))
    v1 = (d1 * math.cos(t1), d1 * math.sin(t1))
    v2 = (v1[0] + (d1 + d2) * math.cos(t1 + t2), v1[1] + (d1 + d2) * math.sin(t1 + t2))
    c.arrow(p1, _clipvec((0.1 * v1[0], 0.1 * v1[1]), 1.2), ANG)
    c.arrow(p2, _clipvec((0.1 * v2[0], 0.1 * v2[1]), 1.2), ANG)
    if action is not None:
        torque = _sign_action(action, 0, 2)
        base = t1 + t2 - math.pi / 2  # direction of link 2
        c.arc_arrow(p1, 0.35, base - torque * 0.9, torque * 1.8, ACT, 3)
    return c.image()


def _hill(x):
    return 0.45 * math.sin(3 * x) + 0.55


def mountain_car(
    obs, size=(240, 240), action=None, goal: float = 0.5, continuous: bool = False
) -> np.ndarray:
    pos, vel = float(obs[0]), float(obs[1])
    c = Canvas(size, (-1.25, 0.65), (-0.05, 1.15))
    xs = np.linspace(-1.2, 0.6, 120)
    c.polygon(
        [(-1.2, -0.05)] + [(x, _hill(x)) for x in xs] + [(0.6, -0.05)], (235, 245, 228)
    )
    c.line([(x, _hill(x)) for x in xs], HILL, 2.5)
    gy = _hill(goal)
    c.line([(goal, gy), (goal, gy + 0.18)], CART, 1.5)
    c.polygon(
        [(goal, gy + 0.18), (goal + 0.08, gy + 0.15), (goal, gy + 0.12)], (204, 204, 0)
    )
    pd = max(-1.2, min(0.6, pos))
    if pd != pos:
        c.arrow((pd, _hill(pd) + 0.25), (math.copysign(0.1, pos), 0), LIMIT, 3)
    slope = 1.35 * math.cos(3 * pd)
    ang = math.atan(slope)
    ca, sa = math.cos(ang), math.sin(ang)
    nx, ny = -sa, ca  # normal
    base = (pd, _hill(pd))

    def at(u, v):  # car frame (u along the slope, v along the normal)
        return (base[0] + u * ca + v * nx, base[1] + u * sa + v * ny)

    w, h, clear = 0.06, 0.05, 0.02
    c.polygon([at(-w, clear), at(w, clear), at(w, clear + h), at(-w, clear + h)], CART)
    for u in (-0.035, 0.035):
        c.circle(at(u, clear), 0.014, (128, 128, 128))
    c.arrow(at(0, clear + h + 0.04), _clipvec((5 * vel * ca, 5 * vel * sa), 0.5), VEL)
    if action is not None:
        f = float(np.clip(action, -1, 1)) if continuous else _sign_action(action, 0, 2)
        c.arrow(at(-0.2 * f, -0.12), (0.2 * f * ca, 0.2 * f * sa), ACT, 3.5)
    return c.image()


def pendulum(obs, size=(240, 240), action=None) -> np.ndarray:
    cs, sn, theta_dot = (float(v) for v in obs[:3])
    theta = math.atan2(sn, cs)
    c = Canvas(size, (-1.35, 1.35), (-1.35, 1.35))
    tip = (-math.sin(theta), math.cos(theta))
    c.line([(0, 0), tip], (204, 77, 77), 12)
    c.circle((0, 0), 0.05, CART)
    tv = (-theta_dot * math.cos(theta), -theta_dot * math.sin(theta))
    c.arrow(tip, _clipvec((0.1 * tv[0], 0.1 * tv[1]), 1.0), ANG)
    if action is not None:
        u = float(np.clip(np.asarray(action).reshape(-1)[0], -2, 2))
        c.arc_arrow((0, 0), 0.3, theta + math.pi / 2 - u * 0.6, u * 1.2, ACT, 3)
    return c.image()


def draw(env: str, obs, size=(240, 240), action=None) -> np.ndarray:
    """RGB image (H, W, 3) of a raw classic-control observation and optional action.

    `action` is the action index for discrete envs, a float for continuous ones.
    """
    obs = np.asarray(obs, np.float64).reshape(-1)
    if env == "CartPole-v1":
        return cartpole(obs, size, action)
    if env == "Acrobot-v1":
        return acrobot(obs, size, action)
    if env == "MountainCar-v0":
        return mountain_car(obs, size, action)
    if env == "MountainCarContinuous-v0":
        return mountain_car(obs, size, action, goal=0.45, continuous=True)
    if env == "Pendulum-v1":
        return pendulum(obs, size, action)
    raise ValueError(f"no classic-control drawing for {env!r}; known: {ENVS}")
