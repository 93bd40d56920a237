package com.example.weather;

import com.example.weather.Conditions;

oneway interface IWeatherListener {
    void onConditionsChanged(in Conditions conditions);
}
