package com.example.weather;

/** A city's conditions. Temperatures and speeds in tenths of the units named. */
parcelable Conditions {
    String city;
    /** "metric" (°C, km/h) or "imperial" (°F, mph). */
    String units;
    /** The model hour they are for. */
    long hour;
    int temperatureTenths;
    /** 0 clear, 1 partly cloudy, 2 cloudy, 3 rain, 4 snow, 5 fog. */
    int sky;
    int humidityPercent;
    int windTenths;
}
