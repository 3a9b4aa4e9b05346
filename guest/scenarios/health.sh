# SPDX-License-Identifier: GPL-2.0-or-later
#
# NVDIMM health with -machine nvdimm-health=on, one NVDIMM (nmem0), read
# and driven by the stock nfit driver and ndctl:
#   boot     the nfit driver found the health functions (dsm_mask), the
#            health events (smart_notify), and the unsafe-shutdown count
#            and state the host expects (VNV_COUNT, VNV_STATE): sysfs
#            dirty_shutdown, flush_fail, and ndctl list -DH
#   full     also (VNV_PHASE=full): the defaults; what the host sets over
#            QMP; ndctl inject-smart of each field it can inject, and its
#            uninject; thresholds and alarms; ndctl monitor catching a
#            spares alarm the guest trips and a temperature alarm the
#            host trips
# With VNV_HEALTH=off the guest must see none of it, as with QEMU 10.0.
# At the end the guest waits for the host (READY end): the host kills
# QEMU or lets the guest power off.
. /vnv-lib.sh

DIMM=nmem0
NFIT=/sys/bus/nd/devices/$DIMM/nfit
MONITOR_LOG=/tmp/monitor.log
# Bits 1, 2, 10, 17, 18: SMART, thresholds, latch, set threshold, inject
HEALTH_FUNCTIONS=0x60406

# health KEY: the first KEY of ndctl list -DH for the DIMM
health() {
    ndctl list -DH -d "$DIMM" 2> /dev/null | json_field "$1"
}

# expect_num CASE ACTUAL WANT: numbers as ndctl prints them (25 or 25.0)
expect_num() {
    if [ -n "$2" ] && awk "BEGIN { exit !($2 == $3) }"; then
        result "$1" PASS "$2"
    else
        result "$1" FAIL "got '$2', want $3"
    fi
}

# inject CASE ARGS...: ndctl inject-smart on the DIMM
inject() {
    local name=$1
    shift
    check "$name" ndctl inject-smart "$DIMM" "$@"
}

# wait_log TEXT SECONDS: until the monitor's log has TEXT
wait_log() {
    local n=0
    while ! grep -q "$1" "$MONITOR_LOG" 2> /dev/null &&
          [ "$n" -lt $(($2 * 4)) ]; do
        sleep 0.25
        n=$((n + 1))
    done
    grep -q "$1" "$MONITOR_LOG" 2> /dev/null
}

check_off() {
    local mask
    mask=$(cat "$NFIT/dsm_mask" 2> /dev/null)
    expect off/no-health-functions $((${mask:-0} & HEALTH_FUNCTIONS)) 0
    expect off/no-dirty-shutdown "$(ls "$NFIT/dirty_shutdown" 2> /dev/null)" ""
    expect off/no-list-health "$(health health_state)" ""
}

check_boot() {
    local mask flags
    expect boot/family "$(cat "$NFIT/family")" 0
    mask=$(cat "$NFIT/dsm_mask")
    expect boot/health-functions $((mask & HEALTH_FUNCTIONS)) \
        $((HEALTH_FUNCTIONS))
    flags=$(cat "$NFIT/flags")
    info "nfit flags: $flags"
    expect boot/smart-notify "$(echo "$flags" | grep -o smart_notify)" \
        smart_notify
    if [ "$VNV_STATE" = dirty ]; then
        expect boot/flush-fail "$(echo "$flags" | grep -o flush_fail)" \
            flush_fail
    else
        expect boot/no-flush-fail "$(echo "$flags" | grep -o flush_fail)" ""
    fi
    expect boot/dirty-shutdown "$(cat "$NFIT/dirty_shutdown")" "$VNV_COUNT"
    expect boot/list-shutdown-count "$(health shutdown_count)" "$VNV_COUNT"
    expect boot/list-shutdown-state "$(health shutdown_state)" "$VNV_STATE"
    show ndctl list -DH -d "$DIMM"
}

check_defaults() {
    expect defaults/health "$(health health_state)" ok
    expect_num defaults/spares "$(health spares_percentage)" 100
    expect_num defaults/life-used "$(health life_used_percentage)" 0
    expect_num defaults/media-temperature "$(health temperature_celsius)" 25
    expect_num defaults/controller-temperature \
        "$(health controller_temperature_celsius)" 30
}

# What the host set over QMP (test_health.py HOST_SET)
check_host_set() {
    wait_host host-set 60 || result host-set FAIL "no GO from the host"
    expect host/health "$(health health_state)" non-critical
    expect_num host/spares "$(health spares_percentage)" 42
    expect_num host/life-used "$(health life_used_percentage)" 3
    expect_num host/media-temperature "$(health temperature_celsius)" 50
    expect_num host/controller-temperature \
        "$(health controller_temperature_celsius)" 40
}

check_injections() {
    inject inject/media-temperature -m 60
    expect_num inject/media-temperature-seen "$(health temperature_celsius)" 60
    inject inject/media-temperature-uninject --media-temperature-uninject
    expect_num inject/media-temperature-back "$(health temperature_celsius)" 50
    inject inject/spares -s 7
    expect_num inject/spares-seen "$(health spares_percentage)" 7
    inject inject/spares-uninject --spares-uninject
    expect_num inject/spares-back "$(health spares_percentage)" 42
    inject inject/fatal -f
    expect inject/fatal-seen "$(health health_state)" fatal
    inject inject/fatal-uninject --fatal-uninject
    expect inject/fatal-back "$(health health_state)" non-critical
    inject inject/unsafe-shutdown -U
    expect inject/unsafe-shutdown-state "$(health shutdown_state)" dirty
    expect inject/unsafe-shutdown-count "$(health shutdown_count)" \
        $((VNV_COUNT + 1))
    inject inject/unsafe-shutdown-uninject --unsafe-shutdown-uninject
    expect inject/unsafe-shutdown-back "$(health shutdown_state)" clean
}

check_thresholds() {
    inject thresholds/set -M 70 --media-temperature-alarm=on \
        -S 20 --spares-alarm=on
    expect thresholds/media-alarm \
        "$(health alarm_enabled_media_temperature)" true
    expect_num thresholds/media "$(health temperature_threshold)" 70
    expect thresholds/spares-alarm "$(health alarm_enabled_spares)" true
    expect_num thresholds/spares "$(health spares_threshold)" 20
    expect thresholds/not-tripped "$(health alarm_spares)" false
}

# monitor_armed SECONDS: until ndctl monitor has set up the DIMM.  It
# enables every alarm (Set SMART Threshold) just before it waits for
# events; the controller temperature alarm is the one no step before
# enabled.
monitor_armed() {
    local n=0
    while [ "$(health alarm_enabled_ctrl_temperature)" != true ] &&
          [ "$n" -lt $(($1 * 4)) ]; do
        sleep 0.25
        n=$((n + 1))
    done
    [ "$(health alarm_enabled_ctrl_temperature)" = true ]
}

check_monitor() {
    local pid
    expect monitor/ctrl-alarm-off "$(health alarm_enabled_ctrl_temperature)" \
        false
    ndctl monitor -d "$DIMM" -l "$MONITOR_LOG" > /dev/null 2>&1 &
    pid=$!
    check monitor/armed monitor_armed 30
    sleep 1
    inject monitor/trip-spares -s 5
    expect monitor/spares-tripped "$(health alarm_spares)" true
    if wait_log "\"dimm-spares-remaining\":true" 15; then
        result monitor/spares-event PASS
    else
        result monitor/spares-event FAIL "log: $(cat "$MONITOR_LOG")"
    fi
    wait_host host-hot 60 || result host-hot FAIL "no GO from the host"
    if wait_log "\"dimm-media-temperature\":true" 15; then
        result monitor/media-temperature-event PASS
    else
        result monitor/media-temperature-event FAIL \
            "log: $(cat "$MONITOR_LOG")"
    fi
    kill "$pid"
    show cat "$MONITOR_LOG"
}

if [ "${VNV_HEALTH:-on}" = off ]; then
    check_off
else
    check_boot
    if [ "${VNV_PHASE:-boot}" = full ]; then
        check_defaults
        check_host_set
        check_injections
        check_thresholds
        check_monitor
    fi
fi
wait_host end 120
