import pytest

from kit.config import PROFILES, Config
from kit.errors import InvalidInput


def test_env_overrides_defaults_and_keywords_override_env():
    env = {"KIT_SHOP_PORT": "19999", "KIT_PROFILE": "realistic", "KIT_TRAFFIC_RPS": "2.5"}
    config = Config.from_env(env)
    assert (config.shop_port, config.profile, config.traffic_rps) == (19999, "realistic", 2.5)
    assert Config.from_env(env, profile="lab").profile == "lab"


@pytest.mark.parametrize("env,field", [
    ({"KIT_SHOP_PORT": "eighty"}, "KIT_SHOP_PORT"),
    ({"KIT_SHOP_PORT": "70000"}, "shop_port"),
    ({"KIT_PROFILE": "turbo"}, "profile"),
    ({"KIT_HOST": "0.0.0.0"}, "host"),
    ({"KIT_TRAFFIC_RPS": "-1"}, "traffic_rps"),
])
def test_bad_settings_name_the_field(env, field):
    with pytest.raises(InvalidInput) as err:
        Config.from_env(env)
    assert err.value.field == field


def test_remote_bind_needs_explicit_flag():
    assert Config.from_env({"KIT_HOST": "0.0.0.0", "KIT_ALLOW_REMOTE": "1"}).host == "0.0.0.0"


def test_profiles_match_the_design():
    lab, real = PROFILES["lab"], PROFILES["realistic"]
    assert (lab.scrape_interval, lab.evaluation_interval, lab.group_wait) == ("1s", "1s", "1s")
    assert (real.scrape_interval, real.evaluation_interval, real.group_wait) == ("15s", "15s", "30s")


def test_every_setting_has_help_and_env_var():
    rows = Config().describe()
    assert all(env.startswith("KIT_") and help_text for _, env, _, help_text in rows)
    assert len({env for _, env, _, _ in rows}) == len(rows)
