"""The simulator's building blocks: the city's rhythms and texts, people, devices, and the `Writer`
that turns a moment, a street and a category into a realistic raw record.

Incident kinds (`incidents.py`, `incidents_extra.py`) and the generator (`generate.py`) build on
these; every component draws from its own seeded `random.Random`, so a scenario always gives
the same records.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Union

from riskwatch.config.loader import CityConfig
from riskwatch.config.models import SensorMetric
from riskwatch.config.regions import RegionIndex, RegionInfo
from riskwatch.contracts import HotlineRecord, PoliceRecord, SensorRecord, Source
from riskwatch.simulator.scenario import Incident, Scenario

CST = timezone(timedelta(hours=8), "CST")
RawRecord = Union[HotlineRecord, PoliceRecord, SensorRecord]  # noqa: UP007 - used at runtime

# ----------------------------------------------------------------------------- rhythms

# Relative volume by hour of day (Beijing time), 1.0 = the peak rate.
HOTLINE_PROFILE = (0.10, 0.06, 0.04, 0.03, 0.03, 0.05, 0.12, 0.30, 0.65, 0.90, 1.00, 0.90,
                   0.60, 0.55, 0.85, 1.00, 0.90, 0.75, 0.50, 0.40, 0.35, 0.28, 0.20, 0.14)
POLICE_PROFILE = (0.55, 0.45, 0.35, 0.30, 0.25, 0.25, 0.30, 0.45, 0.60, 0.65, 0.70, 0.75,
                  0.75, 0.70, 0.70, 0.75, 0.80, 0.85, 0.90, 0.95, 1.00, 1.00, 0.90, 0.75)
POLICE_WEEKEND_FACTOR = 1.1
SLOT = timedelta(minutes=5)

CATEGORY_WEIGHTS = {
    "urban_construction": 18, "environment": 14, "labour": 10, "road_traffic": 9, "heating": 8,
    "water_supply": 6, "power_supply": 5, "health": 4, "public_order": 3, "assistance": 3,
    "gas_supply": 2, "criminal": 2, "fire": 1, "traffic_accident": 1, "other": 14,
}
TOP_CLASS = {
    "water_supply": "城乡建设", "power_supply": "城乡建设", "gas_supply": "城乡建设", "heating": "城乡建设",
    "road_traffic": "交通运输", "urban_construction": "城乡建设", "environment": "环境保护",
    "labour": "劳动和社会保障", "health": "卫生计生", "traffic_accident": "交通运输",
}
REQUEST_TYPES = {
    "water_supply": ("求助", "投诉"), "power_supply": ("求助", "投诉"), "gas_supply": ("求助", "投诉"),
    "heating": ("投诉",), "labour": ("投诉", "求助"), "criminal": ("举报", "求助"),
    "urban_construction": ("投诉", "举报"), "environment": ("投诉", "举报"), "other": ("咨询", "建议"),
    "road_traffic": ("投诉", "建议"), "assistance": ("求助",),
}
# 110 type code → (relative weight, usual priority)
POLICE_TYPES = {
    "0100": (12, 2), "0200": (25, 3), "0300": (2, 2), "0301": (1, 1), "0302": (2, 3), "0303": (1, 3),
    "0400": (18, 2), "0500": (3, 1), "0600": (12, 2), "0700": (9, 4), "0800": (10, 4), "0900": (5, 4),
}
DEVICE_PREFIX = {"water_pressure": "WP", "gas_concentration": "GC", "ponding_depth": "PD", "pm25": "PM"}

# ----------------------------------------------------------------------------- text

ASK = ("请尽快处理", "希望相关部门尽快解决", "请派人来看看", "麻烦尽快安排人员处理", "希望尽快给个答复", "请相关部门核实处理")
SINCE = ("今天早上", "昨天晚上", "这几天", "最近一周", "从上周开始", "今天上午", "从前天开始")
TEMPLATES: dict[str, tuple[str, ...]] = {
    "water_supply": ("{place}{since}停水了，也没有提前通知，{ask}", "{place}自来水水压小，高层用水困难，{ask}",
                     "{place}自来水水发黄，担心水质有问题，{ask}", "{place}地下室水管破裂漏水，{ask}"),
    "power_supply": ("{place}{since}停电，冰箱里的东西都坏了，{ask}", "{place}{since}经常跳闸，电压不稳，{ask}",
                     "{place}楼道{since}没电，{ask}"),
    "gas_supply": ("{place}{since}停气，没法做饭，{ask}", "{place}天然气表读数不对，燃气公司一直没人上门，{ask}"),
    "heating": ("{place}暖气不热，室内只有十四五度，{ask}", "{place}供暖已经开始了，家里暖气还是凉的，{ask}",
                "{place}采暖费交了但是暖气不热，{ask}"),
    "road_traffic": ("{road}与{cross}交叉口信号灯坏了，{ask}", "{road}{n}号门口井盖缺失，晚上很危险，{ask}",
                     "{road}路面破损严重，坑坑洼洼，{ask}", "{road}早晚高峰拥堵严重，建议优化红绿灯配时"),
    "environment": ("{place}楼下饭店油烟很大，{ask}", "{place}附近垃圾好几天没人清运，有异味，{ask}",
                    "{place}附近KTV晚上噪音扰民，{ask}", "{road}有人焚烧垃圾，{ask}"),
    "urban_construction": ("{place}有住户在楼顶搭建违建，{ask}", "{place}电梯{since}经常故障，物业不管，{ask}",
                           "{road}旁边工地夜间施工，{ask}"),
    "labour": ("我在{company}上班，公司拖欠工资三个月了，{ask}", "{company}一直不给缴纳社保，{ask}",
               "{company}不签劳动合同，{ask}"),
    "health": ("{place}附近有诊所无证行医，{ask}", "在{road}一家饭店吃饭后家人疑似食物中毒，{ask}",
               "{road}一家超市卖过期食品，存在食品安全问题，{ask}"),
    "public_order": ("{place}楼下经常有人聚集喝酒吵闹，{ask}", "{place}邻里纠纷，{since}多次协商未果，{ask}"),
    "criminal": ("{place}电动车被盗窃，{ask}", "{since}接到诈骗电话，被骗了两千多元，{ask}"),
    "fire": ("{place}楼道里堆放杂物，担心起火，{ask}", "{place}有人在楼道给电动车充电，存在火灾隐患，{ask}"),
    "traffic_accident": ("{road}与{cross}交叉口经常发生追尾，建议加装减速带",),
    "assistance": ("{place}有一位老人走失，家属着急寻找，{ask}", "{place}家中老人摔倒被困，{ask}"),
    "other": ("咨询一下{topic}怎么办理", "想了解{topic}需要带哪些材料", "建议在{road}增设公交站点"),
}
COMMUNITIES = ("锦艺城", "绿城百合花园", "建业森林半岛", "正弘城", "金水家园", "康桥华城", "英协花园", "银河家园",
               "丰庆佳苑", "天明花园", "民航家属院", "紫荆花园", "文化绿城", "兴华家园", "永威翰林", "升龙城",
               "保利百合", "海馨苑", "凤凰城", "金色港湾", "东方今典", "华润悦府", "亚星盛世", "祥和苑")
CROSS_ROADS = ("农业路", "东风路", "金水路", "纬五路", "黄河路", "文化路", "经三路", "中原路", "大学路", "嵩山路",
               "紫荆山路", "桐柏路", "伏牛路", "航海路", "陇海路", "城东路", "未来路", "政七街")
COMPANIES = ("郑州某物流公司", "某餐饮管理有限公司", "某商贸有限公司", "某建筑劳务公司", "某装饰工程公司", "某电子厂")
TOPICS = ("居住证", "公积金提取", "新生儿落户", "老年卡", "不动产登记", "身份证异地补办")
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国红梅玉兰志宏鹏飞"
PHONE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
                  "156", "157", "158", "159", "166", "176", "177", "178", "180", "181", "182", "183", "185",
                  "186", "187", "188", "189", "191", "193", "195", "198", "199")
ID_PLACES = ("411302", "410322", "412702", "411102", "410423")  # other Henan counties: people move

# ----------------------------------------------------------------------------- resident ids (GB 11643)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_check_char(first17: str) -> str:
    """GB 11643 check character (ISO 7064 MOD 11-2) of the first 17 digits."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def is_valid_resident_id(text: str) -> bool:
    """True if `text` is 18 characters with a real birth date and a matching check character."""
    if len(text) != 18 or not text[:17].isdigit():
        return False
    try:
        date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return False
    return text[17].upper() == id_check_char(text[:17])


def make_resident_id(rng: random.Random, address_code: str) -> str:
    """A random but valid 18-character resident ID number for an address code."""
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 20454))  # up to 2005
    first17 = f"{address_code}{born:%Y%m%d}{rng.randrange(1, 1000):03d}"
    return first17 + id_check_char(first17)


def make_phone(rng: random.Random) -> str:
    """A realistic 11-digit mainland mobile number."""
    return rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def make_name(rng: random.Random) -> str | None:
    """A caller name as operators record it: full name, `王先生`, or nothing."""
    roll = rng.random()
    surname = rng.choice(SURNAMES)
    if roll < 0.6:
        return surname + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
    if roll < 0.9:
        return surname + rng.choice(("先生", "女士"))
    return None


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth for small means, normal approximation above 30)."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


# ----------------------------------------------------------------------------- output types


@dataclass(frozen=True)
class SimRecord:
    """One generated record, what it stands for, and when it happened and arrived."""

    source: Source
    record: RawRecord
    event_time: datetime
    arrival_time: datetime
    category: str
    street_code: str | None
    incident: str | None = None

    @property
    def late(self) -> bool:
        """Held back (gateway outage): arrives after records with later event times."""
        return self.arrival_time > self.event_time

    @property
    def key(self) -> str:
        """The record id used as the Kafka key."""
        rec = self.record
        if isinstance(rec, HotlineRecord):
            return rec.order_id
        if isinstance(rec, PoliceRecord):
            return rec.incident_id
        return rec.device_id


@dataclass(frozen=True)
class Device:
    """One simulated IoT sensor."""

    device_id: str
    metric: str
    unit: str
    street_code: str
    grid_code: str
    lon: float
    lat: float
    nominal: float
    phase: timedelta


@dataclass
class IncidentTruth:
    """Ground truth of one injected incident, as written to `ground_truth.json`."""

    id: str
    kind: str
    street: str
    street_name: str
    district_code: str
    district_name: str
    start: datetime
    end: datetime
    intensity: float
    expected_level: str | None
    expected_categories: list[str]
    records: dict[str, int] = field(default_factory=dict)
    first_at: dict[str, str | None] = field(default_factory=dict)
    devices: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["start"], data["end"] = self.start.isoformat(), self.end.isoformat()
        return data


@dataclass
class Simulation:
    """Everything one scenario produced."""

    scenario: Scenario
    records: list[SimRecord]
    devices: list[Device]
    ground_truth: list[IncidentTruth]

    def by_arrival(self) -> list[SimRecord]:
        """Records in the order upstream systems send them (late flushes last)."""
        return sorted(self.records, key=lambda r: r.arrival_time)

    def counts(self) -> dict[Source, int]:
        out = dict.fromkeys(Source, 0)
        for rec in self.records:
            out[rec.source] += 1
        return out

    def ground_truth_doc(self) -> dict[str, Any]:
        sc = self.scenario
        return {
            "scenario": sc.name,
            "description": sc.description,
            "seed": sc.seed,
            "start": sc.start.isoformat(),
            "end": sc.end.isoformat(),
            "records": {s.value: n for s, n in self.counts().items()},
            "incidents": [t.as_dict() for t in self.ground_truth],
        }


# ----------------------------------------------------------------------------- the city as text


@dataclass
class _Draft:
    source: Source
    at: datetime
    fields: dict[str, Any]
    category: str
    street_code: str | None
    incident: str | None = None


class Writer:
    """Builds hotline and 110 drafts with addresses, names and text for the city."""

    def __init__(self, city: CityConfig) -> None:
        self.city = city
        self.index = RegionIndex(city.regions)
        self.streets = self.index.streets
        self.grids: dict[str, list[RegionInfo]] = {s.code: [] for s in self.streets}
        for grid in self.index.grids:
            self.grids[grid.street_code or ""].append(grid)
        self.categories = {c.code: c for c in city.taxonomy.categories}
        self._communities = {s.code: random.Random(f"community:{s.code}").sample(COMMUNITIES, 3) for s in self.streets}

    def district(self, street: str) -> RegionInfo:
        return self.index.get(self.index.get(street).district_code)  # type: ignore[union-attr,return-value]

    def road(self, street: str) -> str:
        short = self.index.get(street).name.removesuffix("街道")  # type: ignore[union-attr]
        return short if short.endswith(("路", "街")) else short + "街"

    def pick_street(self, rng: random.Random) -> RegionInfo:
        return rng.choices(self.streets, weights=[max(s.population, 1) for s in self.streets])[0]

    def point(self, rng: random.Random, street: str, spread: float = 0.003) -> tuple[float, float, RegionInfo | None]:
        grids = self.grids.get(street) or []
        grid = rng.choice(grids) if grids else None
        lon, lat = (grid or self.index.get(street)).centroid  # type: ignore[union-attr]
        return round(lon + rng.gauss(0, spread), 6), round(lat + rng.gauss(0, spread), 6), grid

    def place(self, rng: random.Random, street: str) -> tuple[str, str, str | None]:
        """(place text, full address, community code) somewhere in the street."""
        info = self.index.get(street)
        district = self.district(street)
        community = rng.choice(self._communities[street])
        grids = self.grids.get(street) or []
        community_code = rng.choice(grids).code[:12] if grids else None
        building = rng.randrange(1, 30)
        place = f"{district.name}{info.name}{community}{building}号楼"  # type: ignore[union-attr]
        if rng.random() < 0.3:
            place = f"{community}{building}号楼"
        address = (f"{self.index.city_name}{district.name}{self.road(street)}{rng.randrange(1, 300)}号"
                   f"{community}{building}号楼{rng.randrange(1, 5)}单元{rng.randrange(1, 33)}{rng.randrange(1, 5):02d}")
        return place, address, community_code

    def hotline(self, rng: random.Random, at: datetime, street: str, category: str, content: str | None = None,
                request_type: str | None = None, incident: str | None = None) -> _Draft:
        """One 12345 work order draft (order_id is assigned later, in time order)."""
        district = self.district(street)
        place, address, community = self.place(rng, street)
        if content is None:
            content = self._content(rng, street, category, place)
        if rng.random() < (0.4 if category == "labour" else 0.08):
            content += f"。本人身份证号{make_resident_id(rng, rng.choice((district.code, *ID_PLACES)))}"
        if rng.random() < 0.1:
            content += f"，联系电话{make_phone(rng)}"
        name = self.categories[category].name if category in self.categories else ""
        roll = rng.random()
        category_text = name if roll < 0.6 else TOP_CLASS.get(category, "") if roll < 0.75 else ""
        known_street = rng.random() >= 0.03
        fields = {
            "received_at": at,
            "channel": rng.choices(("phone", "app", "wechat", "web"), weights=(70, 12, 12, 6))[0],
            "request_type": request_type or rng.choice(REQUEST_TYPES.get(category, ("投诉", "求助"))),
            "category_text": category_text,
            "content": content,
            "caller_name": make_name(rng),
            "caller_phone": make_phone(rng) if rng.random() < 0.97 else None,
            "district_code": district.code,
            "street_code": street if known_street else None,
            "community_code": community if known_street else None,
            "address": address if rng.random() < 0.9 else None,
        }
        return _Draft(Source.hotline, at, fields, category, street, incident)

    def _content(self, rng: random.Random, street: str, category: str, place: str) -> str:
        templates = TEMPLATES.get(category)
        if not templates:
            name = self.categories[category].name if category in self.categories else category
            templates = (f"{{place}}反映{name}方面的问题，{{ask}}",)
        return rng.choice(templates).format(
            place=place, since=rng.choice(SINCE), ask=rng.choice(ASK), road=self.road(street),
            cross=rng.choice(CROSS_ROADS), n=rng.randrange(1, 300), company=rng.choice(COMPANIES),
            topic=rng.choice(TOPICS),
        )

    def police(self, rng: random.Random, at: datetime, street: str, type_code: str, address: str | None = None,
               priority: int | None = None, incident: str | None = None) -> _Draft:
        """One 110 incident draft (incident_id is assigned later, in time order)."""
        district = self.district(street)
        lon, lat, _ = self.point(rng, street)
        if address is None:
            roll = rng.random()
            if roll < 0.4:
                address = f"{district.name}{self.road(street)}{rng.randrange(1, 300)}号附近"
            elif roll < 0.7:
                address = f"{district.name}{self.road(street)}与{rng.choice(CROSS_ROADS)}交叉口"
            else:
                address = f"{district.name}{self.index.get(street).name}{rng.choice(self._communities[street])}"  # type: ignore[union-attr]
        if priority is None:
            priority = POLICE_TYPES.get(type_code, (1, 3))[1]
            if rng.random() < 0.2:
                priority = min(4, max(1, priority + rng.choice((-1, 1))))
        fields = {
            "reported_at": at,
            "type_code": type_code,
            "address": address,
            "lat": lat,
            "lon": lon,
            "priority": priority,
            "caller_phone": make_phone(rng) if rng.random() < 0.95 else None,
            "district_code": district.code if rng.random() < 0.95 else None,
        }
        category = self.city.taxonomy.police_types.get(type_code, self.city.taxonomy.default_category)
        return _Draft(Source.police, at, fields, category, street, incident)


# ----------------------------------------------------------------------------- incidents


@dataclass
class SensorEffect:
    """How an incident changes one metric's readings in some streets."""

    metric: str
    streets: frozenset[str]
    start: datetime
    end: datetime
    apply: Callable[[timedelta, float, random.Random], float]
    incident: str | None = None  # set when the changed readings are evidence of the incident
    devices: frozenset[str] | None = None  # only these devices (None: every device of the metric there)


@dataclass
class Effects:
    """What one incident adds: records, sensor changes, and metrics it needs in its street."""

    drafts: list[_Draft] = field(default_factory=list)
    sensors: list[SensorEffect] = field(default_factory=list)
    requires: list[str] = field(default_factory=list)


IncidentFn = Callable[[Incident, Writer, random.Random], Effects]
def envelope(elapsed: timedelta, duration: timedelta, ramp: timedelta, recover: timedelta) -> float:
    """0 outside the incident, rising to 1 over `ramp`, falling to 0 over the last `recover`."""
    if elapsed < timedelta(0) or elapsed >= duration:
        return 0.0
    if elapsed < ramp:
        return elapsed / ramp
    if elapsed > duration - recover:
        return max(0.0, (duration - elapsed) / recover)
    return 1.0


def nominal_value(metric: SensorMetric, rng: random.Random) -> float:
    """A device's usual level of `metric`: drawn around a typical city value, else from its limits."""
    known = {"water_pressure": (0.30, 0.015), "gas_concentration": (1.0, 0.3), "ponding_depth": (0.0, 0.0),
             "pm25": (75.0, 10.0)}
    if metric.metric in known:
        mean, sd = known[metric.metric]
        return max(0.0, rng.gauss(mean, sd))
    if metric.alarm_high is not None:
        return metric.valid_min + 0.3 * (metric.alarm_high - metric.valid_min)
    if metric.alarm_low is not None:
        return 2 * metric.alarm_low
    return metric.valid_min + 0.25 * (metric.valid_max - metric.valid_min)


def _bump(h: float, centre: float, width: float) -> float:
    return math.exp(-0.5 * ((h - centre) / width) ** 2)


def baseline_value(device: Device, at: datetime, rng: random.Random, state: dict[str, float]) -> float:
    """A normal reading: daily profile plus noise (pm2.5 also drifts as an AR(1) process)."""
    local = at.astimezone(CST)
    h = local.hour + local.minute / 60
    if device.metric == "water_pressure":
        demand = _bump(h, 7.5, 1.2) + _bump(h, 19.5, 1.5)
        night = _bump(h, 3.0, 2.0)
        return device.nominal + 0.02 * night - 0.035 * demand + rng.gauss(0, 0.004)
    if device.metric == "gas_concentration":
        return max(0.2, device.nominal + rng.gauss(0, 0.15))
    if device.metric == "ponding_depth":
        return abs(rng.gauss(0, 0.2))
    if device.metric == "pm25":
        state["ar"] = 0.95 * state.get("ar", 0.0) + rng.gauss(0, 3)
        return device.nominal + 25 * (_bump(h, 8, 2) + _bump(h, 20, 3)) + state["ar"]
    return device.nominal * (1 + rng.gauss(0, 0.02))
