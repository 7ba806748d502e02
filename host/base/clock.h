/* clock.h - a monotonic clock in seconds (internal; base layer). */
#ifndef VKB_CLOCK_H
#define VKB_CLOCK_H
/* Seconds on CLOCK_MONOTONIC: for durations only. */
double vkb_now_s(void);
#endif
